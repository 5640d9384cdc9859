/**
 * Where an HTTP/1.1 message body ends (RFC 9112 §6.3), decided from its head alone: the rules
 * a recipient follows to find the next message on a keep-alive connection. Pure; problems are
 * alerts, and a body whose end cannot be known says so instead of guessing.
 */
import { makeAlert, type Alert, type Direction } from '../alerts.js';
import { headerValues, isAsciiCaseless, tokenList, type HttpHeader, type HttpRequest, type HttpResponse } from './http-parser.js';

/**
 * - `none`: no body (a request without Content-Length or Transfer-Encoding; HEAD, 1xx, 204, 304 answers)
 * - `length`: exactly `length` bytes (Content-Length)
 * - `chunked`: the chunked transfer coding (RFC 9112 §7.1)
 * - `close`: everything until the sender closes the connection (a response with neither)
 * - `switch`: the connection stops being HTTP after this head (101, a 2xx answer to CONNECT)
 * - `invalid`: the end cannot be known (bad Content-Length, a request whose coding is not chunked)
 */
export type BodyKind = 'none' | 'length' | 'chunked' | 'close' | 'switch' | 'invalid';

export interface BodyFraming {
  kind: BodyKind;
  /** For `length`: the body's size. */
  length: number;
  alerts: Alert[];
}

const NONE: BodyFraming = Object.freeze({ kind: 'none', length: 0, alerts: [] as Alert[] }) as BodyFraming;
const CLOSE: BodyFraming = Object.freeze({ kind: 'close', length: 0, alerts: [] as Alert[] }) as BodyFraming;
const SWITCH: BodyFraming = Object.freeze({ kind: 'switch', length: 0, alerts: [] as Alert[] }) as BodyFraming;

function hasField(headers: HttpHeader[], lower: string): boolean {
  for (const header of headers) if (isAsciiCaseless(header.name, lower)) return true;
  return false;
}

/**
 * The request's body (RFC 9112 §6.3 items 3-6): Transfer-Encoding ending in chunked, else a
 * valid Content-Length, else none. `offset` and `packet` say where the body starts, for the alerts.
 */
export function requestBody(head: HttpRequest, offset: number, packet?: number): BodyFraming {
  // The common request has neither field: one pass over the names decides it.
  let te = false;
  let cl = false;
  for (const header of head.headers) {
    if (isAsciiCaseless(header.name, 'transfer-encoding')) te = true;
    else if (isAsciiCaseless(header.name, 'content-length')) cl = true;
  }
  if (!te && !cl) return NONE;
  return framingFromFields(head.headers, te, cl, 'client', offset, packet);
}

/**
 * The response's body (RFC 9112 §6.3 items 1-7), which depends on the request it answers:
 * HEAD and 1xx/204/304 have none, a 2xx to CONNECT and a 101 switch protocols, then
 * Transfer-Encoding, Content-Length, and otherwise the body runs until the server closes.
 * `method` is null for a response with no request to answer (taken as GET).
 */
export function responseBody(head: HttpResponse, method: string | null, offset: number, packet?: number): BodyFraming {
  const status = head.status;
  if (status === 101) return SWITCH;
  if (method === 'CONNECT' && status >= 200 && status < 300) return SWITCH;
  if (method === 'HEAD' || (status >= 100 && status < 200) || status === 204 || status === 304) return NONE;
  const te = hasField(head.headers, 'transfer-encoding');
  const cl = hasField(head.headers, 'content-length');
  if (!te && !cl) return CLOSE;
  return framingFromFields(head.headers, te, cl, 'server', offset, packet);
}

function framingFromFields(headers: HttpHeader[], te: boolean, cl: boolean, direction: Direction, offset: number, packet: number | undefined): BodyFraming {
  const where = { direction, offset, ...(packet !== undefined ? { packet } : {}) };
  const alerts: Alert[] = [];
  if (te) {
    const codings = tokenList(headerValues(headers, 'Transfer-Encoding'));
    if (cl) {
      // §6.1: a sender must not send both; Transfer-Encoding overrides. Two readers disagreeing
      // on which one counts is how requests are smuggled.
      alerts.push(makeAlert('http.length-and-chunked', `The ${direction === 'client' ? 'request' : 'response'} carries both Transfer-Encoding (${codings.join(', ')}) and Content-Length: Transfer-Encoding decides where the body ends.`, where));
    }
    const last = codings[codings.length - 1];
    if (last !== undefined && isAsciiCaseless(last, 'chunked')) return { kind: 'chunked', length: 0, alerts };
    if (direction === 'server') return { kind: 'close', length: 0, alerts };
    alerts.push(makeAlert('http.transfer-coding-invalid', `The request's Transfer-Encoding (${codings.join(', ') || 'empty'}) does not end with chunked: where its body ends cannot be known.`, { ...where, detail: { received: codings.join(', ') } }));
    return { kind: 'invalid', length: 0, alerts };
  }
  const length = contentLength(headerValues(headers, 'Content-Length'));
  if (length === null) {
    const received = headerValues(headers, 'Content-Length').join(', ');
    alerts.push(makeAlert('http.content-length-invalid', `Content-Length ${JSON.stringify(received)} is not one decimal number: where the body ends cannot be known.`, { ...where, detail: { received } }));
    return { kind: 'invalid', length: 0, alerts };
  }
  return { kind: 'length', length, alerts };
}

/**
 * RFC 9110 §8.6: 1*DIGIT. A list or repeated field whose values are all the same number is
 * that number (RFC 9112 §6.3 item 5 lets a recipient accept it); anything else, or a number
 * too large to count exactly, is null.
 */
export function contentLength(values: string[]): number | null {
  let length: number | null = null;
  for (const value of values) {
    for (const element of value.split(',')) {
      const text = element.trim();
      if (!/^[0-9]{1,16}$/.test(text)) return null;
      const n = Number(text);
      if (!Number.isSafeInteger(n)) return null;
      if (length !== null && n !== length) return null;
      length = n;
    }
  }
  return length;
}
