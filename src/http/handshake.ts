/**
 * Opening handshake checks (RFC 6455 §4.1, §4.2, §9.1, §11.3; RFC 7692 §7).
 *
 * Both functions take an already parsed head and return what was negotiated plus alerts;
 * they never stop at the first problem, so one capture shows everything that is wrong.
 */
import { makeAlert, type Alert, type AlertCode, type AlertExtra } from '../alerts.js';
import { computeAccept, isValidKey } from './accept.js';
import {
  DEFLATE_NOT_OFFERED,
  isLegacyDeflate,
  isPermessageDeflate,
  parseExtensions,
  validateDeflateOffer,
  validateDeflateResponse,
  type DeflateParams,
  type ExtensionOffer,
} from './extensions.js';
import { headerValues, isAsciiCaseless, tokenList, type HttpHeader, type HttpRequest, type HttpResponse } from './http-parser.js';

export interface RequestCheck {
  method: string;
  target: string;
  /** The Host value; null when missing (the first one when repeated). */
  host: string | null;
  /** The Sec-WebSocket-Key value as sent; null when missing (the first one when repeated). */
  key: string | null;
  /** The Sec-WebSocket-Version value(s) as sent, comma-joined; null when missing. */
  version: string | null;
  offeredProtocols: string[];
  offeredExtensions: ExtensionOffer[];
  /** Has `Upgrade: websocket`, i.e. worth treating as a WebSocket attempt. */
  isUpgrade: boolean;
  alerts: Alert[];
}

export interface HandshakeVerdict {
  status: number;
  reason: string;
  /** Status 101, even if other checks failed: the alerts say what is wrong. */
  upgraded: boolean;
  expectedAccept: string | null;
  receivedAccept: string | null;
  acceptValid: boolean;
  protocol: string | null;
  extensions: ExtensionOffer[];
  /** permessage-deflate as the response states it, null when not accepted (see validateDeflateResponse). */
  deflate: DeflateParams | null;
  /** From Sec-WebSocket-Version in the response (RFC 6455 §4.4, sent with a 426). */
  supportedVersions: string[];
  alerts: Alert[];
}

/** RFC 6455 §4.1: the only version this RFC defines. */
const WEBSOCKET_VERSION = '13';

function hasToken(headers: HttpHeader[], name: string, token: string): boolean {
  return tokenList(headerValues(headers, name)).some((element) => isAsciiCaseless(element, token));
}

/** "HTTP/1.0" → [1, 0]; anything unreadable → null. */
function httpVersion(version: string): [number, number] | null {
  const match = /^HTTP\/([0-9]+)(?:\.([0-9]+))?$/.exec(version);
  if (match === null) return null;
  return [Number(match[1]), Number(match[2] ?? 0)];
}

/** RFC 6455 §4.1 "HTTP/1.1 or higher". */
function isBelowHttp11(version: string): boolean {
  const parsed = httpVersion(version);
  if (parsed === null) return true;
  const [major, minor] = parsed;
  return major < 1 || (major === 1 && minor < 1);
}

function reporter(alerts: Alert[], direction: 'client' | 'server') {
  return (code: AlertCode, message: string, detail?: AlertExtra['detail']): void => {
    alerts.push(makeAlert(code, message, detail === undefined ? { direction } : { direction, detail }));
  };
}

/**
 * RFC 6455 §4.1 (client requirements) and §4.2.1 (what a server reads). A request with neither
 * `Upgrade: websocket` nor any Sec-WebSocket-Key/-Version header is plain HTTP: its fields are
 * filled in but no WebSocket alerts are raised for it.
 */
export function checkRequest(req: HttpRequest): RequestCheck {
  const alerts: Alert[] = [];
  const report = reporter(alerts, 'client');
  const headers = req.headers;
  const hosts = headerValues(headers, 'Host');
  const keys = headerValues(headers, 'Sec-WebSocket-Key');
  const versions = headerValues(headers, 'Sec-WebSocket-Version');
  const isUpgrade = hasToken(headers, 'Upgrade', 'websocket');
  const parsedExtensions = parseExtensions(headerValues(headers, 'Sec-WebSocket-Extensions'));
  const check: RequestCheck = {
    method: req.method,
    target: req.target,
    host: hosts[0] ?? null,
    key: keys[0] ?? null,
    version: versions.length > 0 ? versions.join(', ') : null,
    offeredProtocols: tokenList(headerValues(headers, 'Sec-WebSocket-Protocol')),
    offeredExtensions: parsedExtensions.extensions,
    isUpgrade,
    alerts,
  };
  if (!isUpgrade && keys.length === 0 && versions.length === 0) return check;

  if (req.method !== 'GET') {
    report('handshake.method', `The opening handshake uses method ${req.method}; it must be GET.`, { method: req.method });
  }
  if (isBelowHttp11(req.version)) {
    report('handshake.http-version', `The opening handshake uses ${req.version}; it must be HTTP/1.1 or later.`, { version: req.version });
  }
  if (hosts.length === 0) {
    report('handshake.host-missing', 'The request has no Host header.', { count: 0 });
  } else if (hosts.length > 1) {
    // RFC 9112 §3.2: a request with more than one Host field line must be rejected.
    report('handshake.host-missing', `The request has ${hosts.length} Host headers; exactly one is required.`, { count: hosts.length });
  }
  if (!isUpgrade) {
    const received = headerValues(headers, 'Upgrade').join(', ');
    report('handshake.upgrade-missing', received === ''
      ? 'The request has no Upgrade header; it needs Upgrade: websocket.'
      : `The Upgrade header (${received}) lacks the websocket token.`, { received: received === '' ? null : received });
  }
  if (!hasToken(headers, 'Connection', 'upgrade')) {
    const received = headerValues(headers, 'Connection').join(', ');
    report('handshake.connection-missing', received === ''
      ? 'The request has no Connection header; it needs Connection: Upgrade.'
      : `The Connection header (${received}) lacks the Upgrade token.`, { received: received === '' ? null : received });
  }

  if (keys.length === 0) {
    report('handshake.key-missing', 'The request has no Sec-WebSocket-Key header.');
  } else if (keys.length > 1) {
    report('handshake.key-repeated', `Sec-WebSocket-Key appears ${keys.length} times; it must appear once.`, { count: keys.length });
  }
  for (const key of keys) {
    if (!isValidKey(key)) {
      report('handshake.key-invalid', `Sec-WebSocket-Key ${JSON.stringify(key)} is not the base64 encoding of 16 bytes.`, { key });
    }
  }

  if (versions.length === 0) {
    report('handshake.version-missing', 'The request has no Sec-WebSocket-Version header.');
  } else if (check.version !== WEBSOCKET_VERSION) {
    report('handshake.version-unsupported', `Sec-WebSocket-Version is ${JSON.stringify(check.version)}; it must be 13.`, { version: check.version });
  }

  for (const error of parsedExtensions.errors) {
    report('handshake.extension-invalid', `Sec-WebSocket-Extensions is not valid RFC 6455 §9.1 syntax: ${error}.`, { problem: error });
  }
  for (const offer of parsedExtensions.extensions) {
    if (isPermessageDeflate(offer.name)) {
      // RFC 7692 §7: the server must decline such an offer.
      for (const problem of validateDeflateOffer(offer)) {
        report('handshake.extension-invalid', `The permessage-deflate offer is invalid: ${problem}.`, { extension: offer.name, problem });
      }
    } else if (isLegacyDeflate(offer.name)) {
      report('handshake.extension-legacy', `The client offers the pre-standard ${offer.name} extension (replaced by permessage-deflate, RFC 7692).`, { extension: offer.name });
    }
  }
  return check;
}

function statusText(res: HttpResponse): string {
  return res.reason === '' ? String(res.status) : `${res.status} ${res.reason}`;
}

/**
 * RFC 6455 §4.1 (what the client must check in the server's answer) and §4.2.2.
 * Meant for the answer to a WebSocket attempt (see checkRequest).
 */
export function checkResponse(res: HttpResponse, request: RequestCheck): HandshakeVerdict {
  const alerts: Alert[] = [];
  const report = reporter(alerts, 'server');
  const headers = res.headers;
  const accepts = headerValues(headers, 'Sec-WebSocket-Accept');
  const verdict: HandshakeVerdict = {
    status: res.status,
    reason: res.reason,
    upgraded: res.status === 101,
    expectedAccept: request.key === null ? null : computeAccept(request.key),
    receivedAccept: accepts[0] ?? null,
    acceptValid: false,
    protocol: null,
    extensions: [],
    deflate: null,
    supportedVersions: tokenList(headerValues(headers, 'Sec-WebSocket-Version')),
    alerts,
  };

  if (!verdict.upgraded) {
    // RFC 6455 §4.1: any status but 101 means the handshake did not complete; §4.4: a 426
    // carries the versions the server supports.
    const versions = verdict.supportedVersions;
    const supported = res.status === 426 && versions.length > 0 ? ` It supports Sec-WebSocket-Version ${versions.join(', ')}.` : '';
    report('handshake.refused', `The server answered ${statusText(res)} instead of 101 Switching Protocols: the connection is not upgraded.${supported}`, {
      status: res.status,
      reason: res.reason,
      supportedVersions: versions.length > 0 ? versions.join(', ') : null,
    });
    return verdict;
  }

  if (isBelowHttp11(res.version)) {
    report('handshake.http-version', `The 101 response uses ${res.version}; upgrading requires HTTP/1.1 or later.`, { version: res.version });
  }
  if (!hasToken(headers, 'Upgrade', 'websocket')) {
    const received = headerValues(headers, 'Upgrade').join(', ');
    report('handshake.response-upgrade-missing', received === ''
      ? 'The 101 response has no Upgrade header; it needs Upgrade: websocket.'
      : `The 101 response's Upgrade header (${received}) lacks the websocket token.`, { received: received === '' ? null : received });
  }
  if (!hasToken(headers, 'Connection', 'upgrade')) {
    const received = headerValues(headers, 'Connection').join(', ');
    report('handshake.response-connection-missing', received === ''
      ? 'The 101 response has no Connection header; it needs Connection: Upgrade.'
      : `The 101 response's Connection header (${received}) lacks the Upgrade token.`, { received: received === '' ? null : received });
  }

  checkAccept(verdict, accepts, report);
  checkProtocol(verdict, headers, request, report);
  checkExtensions(verdict, headers, request, report);
  return verdict;
}

type Report = ReturnType<typeof reporter>;

/** RFC 6455 §4.1 client step 4 and §11.3.3. */
function checkAccept(verdict: HandshakeVerdict, accepts: string[], report: Report): void {
  const expected = verdict.expectedAccept;
  if (accepts.length === 0) {
    report('handshake.accept-missing', expected === null
      ? 'The 101 response has no Sec-WebSocket-Accept header.'
      : `The 101 response has no Sec-WebSocket-Accept header (expected ${expected}).`, { expected });
    return;
  }
  if (accepts.length > 1) {
    report('handshake.accept-repeated', `Sec-WebSocket-Accept appears ${accepts.length} times; it must appear once.`, { count: accepts.length });
  }
  const received = accepts[0] ?? null;
  // Without a key in the request there is nothing to compare with; key-missing says why.
  if (expected === null) return;
  if (accepts.length === 1 && received === expected) {
    verdict.acceptValid = true;
    return;
  }
  const mismatched = accepts.filter((accept) => accept !== expected);
  for (const accept of mismatched) {
    report('handshake.accept-mismatch', `Sec-WebSocket-Accept is ${accept}, expected ${expected} = base64(SHA-1(key + GUID)).`, { expected, received: accept });
  }
}

/** RFC 6455 §4.1 client step 6, §4.2.2: one subprotocol at most, and one the client offered. */
function checkProtocol(verdict: HandshakeVerdict, headers: HttpHeader[], request: RequestCheck, report: Report): void {
  const selected = tokenList(headerValues(headers, 'Sec-WebSocket-Protocol'));
  verdict.protocol = selected[0] ?? null;
  if (selected.length > 1) {
    report('handshake.protocol-multiple', `The server selects ${selected.length} subprotocols (${selected.join(', ')}); at most one is allowed.`, { received: selected.join(', ') });
  }
  for (const protocol of selected) {
    // Subprotocol names are compared exactly, as the client's user agent does.
    if (!request.offeredProtocols.includes(protocol)) {
      const offered = request.offeredProtocols.join(', ');
      report('handshake.protocol-not-offered', offered === ''
        ? `The server selects subprotocol ${protocol} but the client offered none.`
        : `The server selects subprotocol ${protocol}, which the client did not offer (offered: ${offered}).`, {
        received: protocol,
        offered: offered === '' ? null : offered,
      });
    }
  }
}

/** RFC 6455 §4.1 client step 5, §9.1; RFC 7692 §7.1 for permessage-deflate. */
function checkExtensions(verdict: HandshakeVerdict, headers: HttpHeader[], request: RequestCheck, report: Report): void {
  const parsed = parseExtensions(headerValues(headers, 'Sec-WebSocket-Extensions'));
  verdict.extensions = parsed.extensions;
  for (const error of parsed.errors) {
    report('handshake.extension-invalid', `The response's Sec-WebSocket-Extensions is not valid RFC 6455 §9.1 syntax: ${error}.`, { problem: error });
  }
  const offeredNames = new Set(request.offeredExtensions.map((offer) => offer.name.toLowerCase()));
  const seen = new Set<string>();
  for (const extension of parsed.extensions) {
    const name = extension.name.toLowerCase();
    if (seen.has(name)) {
      report('handshake.extension-invalid', `The server accepts ${extension.name} more than once.`, { extension: extension.name });
      continue;
    }
    seen.add(name);
    if (!offeredNames.has(name)) {
      report('handshake.extension-not-offered', `The server accepts extension ${extension.name}, which the client did not offer.`, { extension: extension.name });
    }
    if (isPermessageDeflate(name)) {
      const result = validateDeflateResponse(extension, request.offeredExtensions);
      verdict.deflate = result.params;
      // Not offered at all is already reported as extension-not-offered.
      const problems = result.problems.filter((problem) => problem !== DEFLATE_NOT_OFFERED);
      for (const problem of problems) {
        report('handshake.extension-invalid', `The permessage-deflate response is invalid: ${problem}.`, { extension: extension.name, problem });
      }
    } else if (isLegacyDeflate(name)) {
      report('handshake.extension-legacy', `The server accepts the pre-standard ${extension.name} extension: frames are compressed per frame, not as RFC 7692 defines.`, { extension: extension.name });
    }
  }
}
