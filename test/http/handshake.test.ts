import { describe, expect, it } from 'vitest';
import { ALERT_CATALOGUE } from '../../src/alerts.js';
import { checkRequest, checkResponse, type RequestCheck } from '../../src/http/handshake.js';
import { HttpHeadParser, type HttpRequest, type HttpResponse } from '../../src/http/http-parser.js';
import { SAMPLE_REQUEST_LINES, SAMPLE_RESPONSE_LINES } from './rfc6455-sample.js';

function parse(kind: 'request', text: string): HttpRequest;
function parse(kind: 'response', text: string): HttpResponse;
function parse(kind: 'request' | 'response', text: string): HttpRequest | HttpResponse {
  const result = new HttpHeadParser(kind).push(Uint8Array.from(text, (char) => char.charCodeAt(0)));
  if (result.state !== 'done') throw new Error(`test input did not parse: ${JSON.stringify(result)}`);
  expect(result.alerts).toEqual([]);
  return result.head;
}

type Lines = string[];

/** RFC 6455 §1.2 sample handshake, as lines so tests can change one thing at a time. */
const REQUEST_LINES: Lines = [...SAMPLE_REQUEST_LINES];
const RESPONSE_LINES: Lines = [...SAMPLE_RESPONSE_LINES];

/** Replaces the line(s) starting with `prefix` (case-insensitive) by `replacement`. */
function edit(lines: Lines, prefix: string, ...replacement: string[]): Lines {
  const index = lines.findIndex((line) => line.toLowerCase().startsWith(prefix.toLowerCase()));
  if (index === -1) return [...lines, ...replacement];
  return [...lines.slice(0, index), ...replacement, ...lines.slice(index + 1)];
}

function text(lines: Lines): string {
  return `${lines.join('\r\n')}\r\n\r\n`;
}

function request(lines: Lines = REQUEST_LINES): RequestCheck {
  return checkRequest(parse('request', text(lines)));
}

function response(lines: Lines = RESPONSE_LINES, requestLines: Lines = REQUEST_LINES) {
  return checkResponse(parse('response', text(lines)), request(requestLines));
}

function codes(alerts: { code: string }[]): string[] {
  return alerts.map((alert) => alert.code);
}

describe('the RFC 6455 §1.2 sample handshake', () => {
  it('passes every request check', () => {
    const check = request();
    expect(check).toEqual({
      method: 'GET',
      target: '/chat',
      host: 'server.example.com',
      key: 'dGhlIHNhbXBsZSBub25jZQ==',
      version: '13',
      offeredProtocols: ['chat', 'superchat'],
      offeredExtensions: [],
      isUpgrade: true,
      alerts: [],
    });
  });

  it('passes every response check, with the §1.3 Accept value', () => {
    expect(response()).toEqual({
      status: 101,
      reason: 'Switching Protocols',
      upgraded: true,
      expectedAccept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
      receivedAccept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=',
      acceptValid: true,
      protocol: 'chat',
      extensions: [],
      deflate: null,
      supportedVersions: [],
      alerts: [],
    });
  });
});

describe('checkRequest: each rule fires on a crafted request', () => {
  const cases: Array<[string, Lines, string[]]> = [
    ['POST instead of GET', edit(REQUEST_LINES, 'GET', 'POST /chat HTTP/1.1'), ['handshake.method']],
    ['a lowercase method (methods are case-sensitive)', edit(REQUEST_LINES, 'GET', 'get /chat HTTP/1.1'), ['handshake.method']],
    ['HTTP/1.0', edit(REQUEST_LINES, 'GET', 'GET /chat HTTP/1.0'), ['handshake.http-version']],
    ['no Host', edit(REQUEST_LINES, 'Host:'), ['handshake.host-missing']],
    ['two Host headers', edit(REQUEST_LINES, 'Host:', 'Host: a', 'Host: b'), ['handshake.host-missing']],
    ['Upgrade without websocket', edit(REQUEST_LINES, 'Upgrade:', 'Upgrade: h2c'), ['handshake.upgrade-missing']],
    ['no Upgrade at all', edit(REQUEST_LINES, 'Upgrade:'), ['handshake.upgrade-missing']],
    ['Connection without Upgrade', edit(REQUEST_LINES, 'Connection:', 'Connection: keep-alive'), ['handshake.connection-missing']],
    ['Connection: Upgraded is not the Upgrade token', edit(REQUEST_LINES, 'Connection:', 'Connection: Upgraded'), ['handshake.connection-missing']],
    ['no Connection', edit(REQUEST_LINES, 'Connection:'), ['handshake.connection-missing']],
    ['no key', edit(REQUEST_LINES, 'Sec-WebSocket-Key:'), ['handshake.key-missing']],
    ['a repeated key', edit(REQUEST_LINES, 'Sec-WebSocket-Key:', 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=='), ['handshake.key-repeated']],
    ['a key of 12 bytes', edit(REQUEST_LINES, 'Sec-WebSocket-Key:', 'Sec-WebSocket-Key: AAAAAAAAAAAAAAAA'), ['handshake.key-invalid']],
    ['a key that is not base64', edit(REQUEST_LINES, 'Sec-WebSocket-Key:', 'Sec-WebSocket-Key: not a base64 key!'), ['handshake.key-invalid']],
    ['no version', edit(REQUEST_LINES, 'Sec-WebSocket-Version:'), ['handshake.version-missing']],
    ['version 8', edit(REQUEST_LINES, 'Sec-WebSocket-Version:', 'Sec-WebSocket-Version: 8'), ['handshake.version-unsupported']],
    ['a version list', edit(REQUEST_LINES, 'Sec-WebSocket-Version:', 'Sec-WebSocket-Version: 13, 8'), ['handshake.version-unsupported']],
    ['bad extension syntax', [...REQUEST_LINES, 'Sec-WebSocket-Extensions: permessage-deflate; x="a b"'], ['handshake.extension-invalid']],
    ['an invalid permessage-deflate offer', [...REQUEST_LINES, 'Sec-WebSocket-Extensions: permessage-deflate; server_max_window_bits=20'], ['handshake.extension-invalid']],
    ['x-webkit-deflate-frame', [...REQUEST_LINES, 'Sec-WebSocket-Extensions: x-webkit-deflate-frame'], ['handshake.extension-legacy']],
    ['deflate-frame', [...REQUEST_LINES, 'Sec-WebSocket-Extensions: deflate-frame; max_window_bits=10'], ['handshake.extension-legacy']],
  ];

  it.each(cases)('%s', (_label, lines, expected) => {
    const check = request(lines);
    expect(codes(check.alerts)).toEqual(expected);
    for (const alert of check.alerts) {
      expect(alert.direction).toBe('client');
      expect(alert.section).toBe(ALERT_CATALOGUE[alert.code].section);
    }
  });

  it('puts machine-readable facts in detail', () => {
    expect(request(edit(REQUEST_LINES, 'GET', 'PUT /chat HTTP/1.1')).alerts[0]?.detail).toEqual({ method: 'PUT' });
    expect(request(edit(REQUEST_LINES, 'Sec-WebSocket-Key:', 'Sec-WebSocket-Key: abc')).alerts[0]?.detail).toEqual({ key: 'abc' });
    expect(request(edit(REQUEST_LINES, 'Sec-WebSocket-Version:', 'Sec-WebSocket-Version: 8')).alerts[0]?.detail).toEqual({ version: '8' });
  });

  it('reports everything at once for a badly broken request', () => {
    const check = request(['PUT / HTTP/1.0', 'Sec-WebSocket-Key: x']);
    expect(codes(check.alerts)).toEqual([
      'handshake.method',
      'handshake.http-version',
      'handshake.host-missing',
      'handshake.upgrade-missing',
      'handshake.connection-missing',
      'handshake.key-invalid',
      'handshake.version-missing',
    ]);
    expect(check.isUpgrade).toBe(false);
  });
});

describe('checkRequest: valid variants raise nothing', () => {
  const cases: Array<[string, Lines]> = [
    ['Connection: keep-alive, Upgrade', edit(REQUEST_LINES, 'Connection:', 'Connection: keep-alive, Upgrade')],
    ['Connection split over two headers', edit(REQUEST_LINES, 'Connection:', 'Connection: keep-alive', 'connection: upgrade')],
    ['Upgrade: WebSocket in another case', edit(REQUEST_LINES, 'Upgrade:', 'upgrade: WebSocket')],
    ['Upgrade listing several protocols', edit(REQUEST_LINES, 'Upgrade:', 'Upgrade: foo/2, websocket')],
    ['HTTP/1.2', edit(REQUEST_LINES, 'GET', 'GET /chat HTTP/1.2')],
    ['lowercase header names', REQUEST_LINES.map((line, index) => (index === 0 ? line : line.replace(/^[^:]+/, (name) => name.toLowerCase())))],
    ['a valid permessage-deflate offer', [...REQUEST_LINES, 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits']],
    ['an unknown extension (only its answer is checked)', [...REQUEST_LINES, 'Sec-WebSocket-Extensions: foo; bar=1']],
    ['no subprotocols', edit(REQUEST_LINES, 'Sec-WebSocket-Protocol:')],
  ];

  it.each(cases)('%s', (_label, lines) => {
    expect(request(lines).alerts).toEqual([]);
  });

  it('collects offered extensions in order across headers', () => {
    const check = request([...REQUEST_LINES, 'Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits', 'Sec-WebSocket-Extensions: permessage-deflate']);
    expect(check.offeredExtensions).toEqual([
      { name: 'permessage-deflate', params: [{ name: 'client_max_window_bits', value: null }] },
      { name: 'permessage-deflate', params: [] },
    ]);
  });

  it('leaves plain HTTP requests alone', () => {
    const check = request(['GET /index.html HTTP/1.1', 'Host: example.com', 'Connection: keep-alive']);
    expect(check.isUpgrade).toBe(false);
    expect(check.alerts).toEqual([]);
    expect(request(['POST /api HTTP/1.0', 'Upgrade: h2c']).alerts).toEqual([]);
  });
});

describe('checkResponse: refusals', () => {
  it.each([
    [400, 'Bad Request'],
    [401, 'Unauthorized'],
    [403, 'Forbidden'],
    [404, 'Not Found'],
    [200, 'OK'],
  ])('%i is not an upgrade', (status, reason) => {
    const verdict = response([`HTTP/1.1 ${status} ${reason}`, 'Content-Length: 0']);
    expect(verdict.upgraded).toBe(false);
    expect(codes(verdict.alerts)).toEqual(['handshake.refused']);
    expect(verdict.alerts[0]?.message).toContain(`${status} ${reason}`);
    expect(verdict.alerts[0]).toMatchObject({ direction: 'server', severity: 'warning', detail: { status, reason, supportedVersions: null } });
  });

  it('426 names the versions the server supports (RFC 6455 §4.4)', () => {
    const verdict = response(['HTTP/1.1 426 Upgrade Required', 'Sec-WebSocket-Version: 13', 'Sec-WebSocket-Version: 8, 7'], edit(REQUEST_LINES, 'Sec-WebSocket-Version:', 'Sec-WebSocket-Version: 25'));
    expect(verdict.supportedVersions).toEqual(['13', '8', '7']);
    expect(codes(verdict.alerts)).toEqual(['handshake.refused']);
    expect(verdict.alerts[0]?.message).toMatch(/426 Upgrade Required.*13, 8, 7/);
    expect(verdict.alerts[0]?.detail).toMatchObject({ status: 426, supportedVersions: '13, 8, 7' });
  });

  it('does not check Accept and friends on a refusal', () => {
    const verdict = response(['HTTP/1.1 403 Forbidden']);
    expect(verdict.acceptValid).toBe(false);
    expect(verdict.receivedAccept).toBeNull();
    expect(verdict.expectedAccept).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });
});

describe('checkResponse: each rule fires on a crafted 101', () => {
  const cases: Array<[string, Lines, string[]]> = [
    ['HTTP/1.0 101', edit(RESPONSE_LINES, 'HTTP/', 'HTTP/1.0 101 Switching Protocols'), ['handshake.http-version']],
    ['no Upgrade', edit(RESPONSE_LINES, 'Upgrade:'), ['handshake.response-upgrade-missing']],
    ['Upgrade: h2c', edit(RESPONSE_LINES, 'Upgrade:', 'Upgrade: h2c'), ['handshake.response-upgrade-missing']],
    ['no Connection', edit(RESPONSE_LINES, 'Connection:'), ['handshake.response-connection-missing']],
    ['Connection: close', edit(RESPONSE_LINES, 'Connection:', 'Connection: close'), ['handshake.response-connection-missing']],
    ['no Accept', edit(RESPONSE_LINES, 'Sec-WebSocket-Accept:'), ['handshake.accept-missing']],
    ['a wrong Accept', edit(RESPONSE_LINES, 'Sec-WebSocket-Accept:', 'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA='), ['handshake.accept-mismatch']],
    ['an Accept computed with a lowercased GUID', edit(RESPONSE_LINES, 'Sec-WebSocket-Accept:', 'Sec-WebSocket-Accept: WJfwerbIozKsJXHxxI0JTO1SQgU='), ['handshake.accept-mismatch']],
    ['a repeated Accept', edit(RESPONSE_LINES, 'Sec-WebSocket-Accept:', 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo='), ['handshake.accept-repeated']],
    ['a subprotocol not offered', edit(RESPONSE_LINES, 'Sec-WebSocket-Protocol:', 'Sec-WebSocket-Protocol: mqtt'), ['handshake.protocol-not-offered']],
    ['a subprotocol in another case', edit(RESPONSE_LINES, 'Sec-WebSocket-Protocol:', 'Sec-WebSocket-Protocol: Chat'), ['handshake.protocol-not-offered']],
    ['two subprotocols', edit(RESPONSE_LINES, 'Sec-WebSocket-Protocol:', 'Sec-WebSocket-Protocol: chat, superchat'), ['handshake.protocol-multiple']],
    ['two subprotocol headers', edit(RESPONSE_LINES, 'Sec-WebSocket-Protocol:', 'Sec-WebSocket-Protocol: chat', 'Sec-WebSocket-Protocol: superchat'), ['handshake.protocol-multiple']],
    ['an extension not offered', [...RESPONSE_LINES, 'Sec-WebSocket-Extensions: permessage-deflate'], ['handshake.extension-not-offered']],
    ['bad extension syntax', [...RESPONSE_LINES, 'Sec-WebSocket-Extensions: ;'], ['handshake.extension-invalid']],
  ];

  it.each(cases)('%s', (_label, lines, expected) => {
    const verdict = response(lines);
    expect(verdict.upgraded).toBe(true);
    expect(codes(verdict.alerts)).toEqual(expected);
    for (const alert of verdict.alerts) expect(alert.direction).toBe('server');
  });

  it('shows the expected and the received Accept', () => {
    const verdict = response(edit(RESPONSE_LINES, 'Sec-WebSocket-Accept:', 'Sec-WebSocket-Accept: wrong='));
    expect(verdict).toMatchObject({ expectedAccept: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', receivedAccept: 'wrong=', acceptValid: false });
    const alert = verdict.alerts[0];
    expect(alert?.message).toContain('wrong=');
    expect(alert?.message).toContain('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(alert?.detail).toEqual({ expected: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=', received: 'wrong=' });
  });

  it('a missing Accept names the expected value', () => {
    const alert = response(edit(RESPONSE_LINES, 'Sec-WebSocket-Accept:')).alerts[0];
    expect(alert?.message).toContain('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
    expect(alert?.detail).toEqual({ expected: 's3pPLMBiTxaQ9kYGzzhZRbK+xOo=' });
  });

  it('a repeated Accept with one wrong copy is both repeated and a mismatch', () => {
    const verdict = response(edit(RESPONSE_LINES, 'Sec-WebSocket-Accept:', 'Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=', 'Sec-WebSocket-Accept: other='));
    expect(codes(verdict.alerts)).toEqual(['handshake.accept-repeated', 'handshake.accept-mismatch']);
    expect(verdict.acceptValid).toBe(false);
  });

  it('cannot verify the Accept when the request had no key, and says so only once', () => {
    const verdict = response(RESPONSE_LINES, edit(REQUEST_LINES, 'Sec-WebSocket-Key:'));
    expect(verdict).toMatchObject({ expectedAccept: null, acceptValid: false });
    expect(verdict.alerts).toEqual([]);
  });

  it('a subprotocol when the client offered none', () => {
    const verdict = response(RESPONSE_LINES, edit(REQUEST_LINES, 'Sec-WebSocket-Protocol:'));
    expect(codes(verdict.alerts)).toEqual(['handshake.protocol-not-offered']);
    expect(verdict.alerts[0]?.detail).toEqual({ received: 'chat', offered: null });
  });

  it('still upgrades when checks fail: the alerts say what is wrong', () => {
    const verdict = response(['HTTP/1.1 101 Switching Protocols']);
    expect(verdict.upgraded).toBe(true);
    expect(codes(verdict.alerts)).toEqual(['handshake.response-upgrade-missing', 'handshake.response-connection-missing', 'handshake.accept-missing']);
  });
});

describe('checkResponse: valid variants raise nothing', () => {
  const cases: Array<[string, Lines]> = [
    ['no subprotocol selected', edit(RESPONSE_LINES, 'Sec-WebSocket-Protocol:')],
    ['the second offered subprotocol', edit(RESPONSE_LINES, 'Sec-WebSocket-Protocol:', 'Sec-WebSocket-Protocol: superchat')],
    ['Connection: upgrade, keep-alive', edit(RESPONSE_LINES, 'Connection:', 'Connection: upgrade, keep-alive')],
    ['Upgrade: WebSocket', edit(RESPONSE_LINES, 'Upgrade:', 'Upgrade: WebSocket')],
    ['an empty reason phrase', edit(RESPONSE_LINES, 'HTTP/', 'HTTP/1.1 101 ')],
  ];

  it.each(cases)('%s', (_label, lines) => {
    expect(response(lines).alerts).toEqual([]);
  });
});

describe('checkResponse: extensions', () => {
  const offer = (header: string): Lines => [...REQUEST_LINES, `Sec-WebSocket-Extensions: ${header}`];
  const answer = (header: string): Lines => [...RESPONSE_LINES, `Sec-WebSocket-Extensions: ${header}`];

  it('negotiates permessage-deflate (RFC 7692 §7.1)', () => {
    const verdict = response(answer('permessage-deflate; server_no_context_takeover; client_max_window_bits=10'), offer('permessage-deflate; client_max_window_bits'));
    expect(verdict.alerts).toEqual([]);
    expect(verdict.extensions).toEqual([
      { name: 'permessage-deflate', params: [{ name: 'server_no_context_takeover', value: null }, { name: 'client_max_window_bits', value: '10' }] },
    ]);
    expect(verdict.deflate).toEqual({ serverNoContextTakeover: true, clientNoContextTakeover: false, serverMaxWindowBits: null, clientMaxWindowBits: 10 });
  });

  it('accepts the fallback offer of an RFC 7692 style list', () => {
    const verdict = response(answer('permessage-deflate'), offer('permessage-deflate; server_max_window_bits=10, permessage-deflate'));
    expect(verdict.alerts).toEqual([]);
    expect(verdict.deflate).toMatchObject({ serverMaxWindowBits: null });
  });

  it('leaves deflate null when the server declines every extension', () => {
    const verdict = response(RESPONSE_LINES, offer('permessage-deflate'));
    expect(verdict).toMatchObject({ alerts: [], extensions: [], deflate: null });
  });

  it.each([
    ['client_max_window_bits not offered', 'permessage-deflate', 'permessage-deflate; client_max_window_bits=10', /did not offer it/],
    ['client_max_window_bits larger than allowed', 'permessage-deflate; client_max_window_bits=9', 'permessage-deflate; client_max_window_bits=12', /larger than the 9/],
    ['server_max_window_bits larger than offered', 'permessage-deflate; server_max_window_bits=10', 'permessage-deflate; server_max_window_bits=15', /larger than the 10 offered/],
    ['server_no_context_takeover dropped', 'permessage-deflate; server_no_context_takeover', 'permessage-deflate', /missing from the response/],
    ['an unknown parameter', 'permessage-deflate', 'permessage-deflate; level=9', /unknown parameter level/],
    ['a window outside 8..15', 'permessage-deflate', 'permessage-deflate; server_max_window_bits=7', /outside 8\.\.15/],
    ['a repeated parameter', 'permessage-deflate', 'permessage-deflate; server_no_context_takeover; server_no_context_takeover', /repeated/],
  ])('flags %s as extension-invalid', (_label, offered, answered, problem) => {
    const verdict = response(answer(answered), offer(offered));
    expect(codes(verdict.alerts)).toEqual(['handshake.extension-invalid']);
    expect(verdict.alerts[0]?.message).toMatch(problem);
    expect(verdict.alerts[0]?.detail).toMatchObject({ extension: 'permessage-deflate' });
    expect(verdict.deflate).not.toBeNull();
  });

  it('flags an extension accepted twice', () => {
    const verdict = response(answer('permessage-deflate, permessage-deflate'), offer('permessage-deflate, permessage-deflate'));
    expect(codes(verdict.alerts)).toEqual(['handshake.extension-invalid']);
  });

  it('reports permessage-deflate answered without an offer once, as not offered', () => {
    const verdict = response(answer('permessage-deflate; server_max_window_bits=99'), offer('foo'));
    expect(codes(verdict.alerts)).toEqual(['handshake.extension-not-offered', 'handshake.extension-invalid']);
    expect(verdict.alerts[1]?.message).toMatch(/outside 8\.\.15/);
  });

  it('reports a legacy extension the server accepts', () => {
    const verdict = response(answer('x-webkit-deflate-frame'), offer('x-webkit-deflate-frame'));
    expect(codes(verdict.alerts)).toEqual(['handshake.extension-legacy']);
    expect(verdict.alerts[0]).toMatchObject({ severity: 'info', direction: 'server', detail: { extension: 'x-webkit-deflate-frame' } });
    expect(verdict.deflate).toBeNull();
  });

  it('matches extension names case-insensitively', () => {
    expect(response(answer('Permessage-Deflate'), offer('permessage-deflate')).alerts).toEqual([]);
  });
});
