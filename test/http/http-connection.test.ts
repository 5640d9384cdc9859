import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Direction } from '../../src/alerts.js';
import { HttpConnection, type HttpConnectionOptions, type HttpEvent } from '../../src/http/http-connection.js';
import { contentLength } from '../../src/http/body-framing.js';
import { runs } from '../helpers/fuzz.js';

const bytes = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
const text = (b: Uint8Array) => Buffer.from(b).toString('latin1');

type Step = [Direction, string] | ['gap', Direction, number] | ['end', Direction];

/**
 * Runs a script through an HttpConnection and describes what came out, one string per event,
 * in a form that does not depend on how the bytes were split: consecutive body pieces are
 * joined, and after a protocol switch the bytes of each side (the switch's `rest` and `held`,
 * then whatever is pushed later) are collected whole.
 */
function run(steps: Step[], options: HttpConnectionOptions = {}, split: (data: Uint8Array) => Uint8Array[] = (d) => [d]): string[] {
  const http = new HttpConnection({ bodies: true, ...options });
  const out: string[] = [];
  let after: Record<Direction, string> | null = null;
  let packet = 0;
  const take = (events: HttpEvent[]) => {
    for (const e of events) {
      const last = out[out.length - 1];
      switch (e.type) {
        case 'request':
          out.push(`request#${e.exchange.index} ${e.exchange.request!.method} ${e.exchange.request!.target}`);
          break;
        case 'interim':
          out.push(`interim#${e.exchange.index} ${e.response.status}`);
          break;
        case 'response':
          out.push(`response#${e.exchange.index} ${e.exchange.response!.status} ${e.exchange.responseBody}`);
          break;
        case 'body': {
          const head = `body#${e.exchange.index} ${e.direction} `;
          if (last?.startsWith(head)) out[out.length - 1] = last + text(e.bytes);
          else out.push(head + text(e.bytes));
          break;
        }
        case 'message-end':
          out.push(`end#${e.exchange.index} ${e.direction}${e.complete ? '' : ' incomplete'}`);
          break;
        case 'early':
          out.push(`early#${e.exchange.index}`);
          break;
        case 'switch':
          out.push(`switch#${e.exchange.index}`);
          after = { client: '', server: text(e.rest) };
          for (const piece of e.held) after.client += 'bytes' in piece ? text(piece.bytes) : `[gap ${piece.gap}]`;
          if (e.heldDropped > 0) after.client += `[dropped ${e.heldDropped}]`;
          break;
        case 'alert':
          out.push(`alert ${e.alert.code}`);
          break;
        case 'unanswered':
          out.push(`unanswered#${e.exchange.index}`);
          break;
        case 'lost':
          out.push(`lost ${e.direction} ${e.reason}`);
          break;
      }
    }
  };
  for (const step of steps) {
    packet++;
    if (step[0] === 'gap') {
      take(http.gap(step[1], step[2], { packet }));
    } else if (step[0] === 'end') {
      take(http.end(step[1], { packet }));
    } else {
      const [direction, data] = step;
      for (const piece of split(bytes(data))) {
        const switched = after as Record<Direction, string> | null;
        if (switched !== null) switched[direction] += text(piece);
        else take(http.push(direction, piece, { packet }));
      }
    }
  }
  take(http.finish({ packet }));
  const switched = after as Record<Direction, string> | null;
  if (switched !== null) out.push(`after client=${JSON.stringify(switched.client)} server=${JSON.stringify(switched.server)}`);
  return out;
}

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: example.com\r\n${extra}\r\n`;
const UPGRADE = (path = '/chat', extra = '') => GET(path, `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n${extra}`);
const SWITCHING = 'HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n';
const OK = (body: string, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;
const CHUNKED = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nA;name=value\r\n, world!!!\r\n0\r\nExpires: never\r\nX-Sum: 42\r\n\r\n';

describe('HttpConnection: exchanges on one connection', () => {
  it('sees a GET answered 200, then the upgrade on the same keep-alive connection', () => {
    expect(run([['client', GET('/page')], ['server', OK('hello')], ['client', UPGRADE()], ['server', SWITCHING + '\x81\x02hi'], ['client', '\x81\x82abcd\x09\x0b']])).toEqual([
      'request#0 GET /page',
      'end#0 client',
      'response#0 200 length',
      'body#0 server hello',
      'end#0 server',
      'request#1 GET /chat',
      'end#1 client',
      'response#1 101 switch',
      'switch#1',
      `after client=${JSON.stringify('\x81\x82abcd\x09\x0b')} server=${JSON.stringify('\x81\x02hi')}`,
    ]);
  });

  it('pairs pipelined requests with their responses in order, HEAD and 204/304 without a body', () => {
    const requests = GET('/a') + `HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n` + GET('/c') + GET('/d');
    const responses = OK('aaa') + 'HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + 'HTTP/1.1 204 No Content\r\nContent-Length: 7\r\n\r\n' + 'HTTP/1.1 304 Not Modified\r\n\r\n';
    expect(run([['client', requests], ['server', responses]])).toEqual([
      'request#0 GET /a',
      'end#0 client',
      'request#1 HEAD /b',
      'end#1 client',
      'request#2 GET /c',
      'end#2 client',
      'request#3 GET /d',
      'end#3 client',
      'response#0 200 length',
      'body#0 server aaa',
      'end#0 server',
      'response#1 200 none',
      'end#1 server',
      'response#2 204 none',
      'end#2 server',
      'response#3 304 none',
      'end#3 server',
    ]);
  });

  it('follows a chunked body with extensions and trailers (RFC 9112 §7.1)', () => {
    const http = new HttpConnection({ bodies: true });
    http.push('client', bytes(GET('/')));
    const events = http.push('server', bytes(CHUNKED + OK('next')));
    const body = events.filter((e) => e.type === 'body' && e.exchange.index === 0).map((e) => text((e as { bytes: Uint8Array }).bytes)).join('');
    expect(body).toBe('hello, world!!!');
    const first = events.find((e) => e.type === 'response')!.exchange;
    expect(first).toMatchObject({ responseBody: 'chunked', responseBodyBytes: 15, responseTrailers: [{ name: 'Expires', value: 'never' }, { name: 'X-Sum', value: '42' }] });
    // The 200 after the chunked body is the next response: it answers no request.
    expect(events.filter((e) => e.type === 'alert').map((e) => (e as { alert: { code: string } }).alert.code)).toEqual(['http.response-without-request']);
  });

  it('reads a response without a length until the server closes', () => {
    expect(run([['client', GET('/')], ['server', 'HTTP/1.1 200 OK\r\n\r\nall of '], ['server', 'this'], ['end', 'server']])).toEqual([
      'request#0 GET /',
      'end#0 client',
      'response#0 200 close',
      'body#0 server all of this',
      'end#0 server',
    ]);
  });

  it('skips 1xx interim answers: 100 Continue before a 200, 100 before a 101', () => {
    const post = `POST /up HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 4\r\n\r\n`;
    expect(run([['client', post], ['server', 'HTTP/1.1 100 Continue\r\n\r\n'], ['client', 'data'], ['server', OK('ok') + 'HTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n']])).toEqual([
      'request#0 POST /up',
      'interim#0 100',
      'body#0 client data',
      'end#0 client',
      'response#0 200 length',
      'body#0 server ok',
      'end#0 server',
      'alert http.response-without-request',
      'interim#1 103',
      'unanswered#1',
    ]);
    expect(run([['client', UPGRADE()], ['server', 'HTTP/1.1 100 Continue\r\n\r\n' + SWITCHING]])).toEqual([
      'request#0 GET /chat',
      'end#0 client',
      'interim#0 100',
      'response#0 101 switch',
      'switch#0',
      'after client="" server=""',
    ]);
  });

  it('holds what the client sends after an upgrade request: the new protocol after a 101', () => {
    expect(run([['client', UPGRADE() + 'early frame'], ['client', ' bytes'], ['server', SWITCHING + 'frames']])).toEqual([
      'request#0 GET /chat',
      'end#0 client',
      'early#0',
      'response#0 101 switch',
      'switch#0',
      'after client="early frame bytes" server="frames"',
    ]);
  });

  it('…and the next HTTP request after a refusal: a 401, then the retry with credentials', () => {
    const retry = UPGRADE('/chat', 'Authorization: Basic dXNlcjpwYXNz\r\n');
    expect(run([['client', UPGRADE()], ['client', retry], ['server', 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\n\r\n'], ['server', SWITCHING]])).toEqual([
      'request#0 GET /chat',
      'end#0 client',
      'early#0',
      'response#0 401 length',
      'end#0 server',
      'request#1 GET /chat',
      'end#1 client',
      'response#1 101 switch',
      'switch#1',
      'after client="" server=""',
    ]);
  });

  it('takes a body declared by an upgrade request as the new protocol after a 101, as a body after a refusal', () => {
    // curl 7.88, which cannot speak WebSocket, can be made to send frames as the request body;
    // node:http hands them to ws as frames (fixtures/tls/curl-tls12.pcap).
    const upgradeWithBody = UPGRADE('/chat', 'Content-Length: 6\r\n') + 'frames';
    expect(run([['client', upgradeWithBody], ['server', SWITCHING]])).toEqual([
      'request#0 GET /chat',
      'early#0',
      'response#0 101 switch',
      'end#0 client',
      'switch#0',
      'after client="frames" server=""',
    ]);
    expect(run([['client', upgradeWithBody + GET('/next')], ['server', 'HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n']]).filter((l) => !l.startsWith('unanswered'))).toEqual([
      'request#0 GET /chat',
      'early#0',
      'response#0 403 length',
      'end#0 server',
      'body#0 client frames',
      'end#0 client',
      'request#1 GET /next',
      'end#1 client',
    ]);
  });

  it('drops held bytes over the limit and counts them', () => {
    expect(run([['client', UPGRADE() + '0123456789'], ['server', SWITCHING]], { maxHeldBytes: 4 }).slice(-1)).toEqual(['after client="0123[dropped 6]" server=""']);
  });

  it('opens a CONNECT tunnel on a 2xx, and reads a request body by Content-Length or chunks', () => {
    expect(run([['client', 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01'], ['server', 'HTTP/1.1 200 Connection Established\r\n\r\n']])).toEqual([
      'request#0 CONNECT example.com:443',
      'end#0 client',
      'early#0',
      'response#0 200 switch',
      'switch#0',
      `after client=${JSON.stringify('\x16\x03\x01')} server=""`,
    ]);
    const posts = 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc' + 'POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n' + GET('/c');
    expect(run([['client', posts]]).filter((line) => !line.startsWith('unanswered'))).toEqual([
      'request#0 POST /a',
      'body#0 client abc',
      'end#0 client',
      'request#1 POST /b',
      'body#1 client de',
      'end#1 client',
      'request#2 GET /c',
      'end#2 client',
    ]);
  });

  it('ignores empty lines before a request line (RFC 9112 §2.2)', () => {
    expect(run([['client', 'POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx\r\n\r\n' + GET('/b')]]).filter((l) => l.startsWith('request'))).toEqual(['request#0 POST /a', 'request#1 GET /b']);
  });
});

describe('HttpConnection: what cannot be followed', () => {
  it('says the server spoke first, or that a stream is not HTTP', () => {
    expect(run([['server', 'SSH-2.0-OpenSSH_9.2\r\n']])).toEqual(['lost server server-first']);
    expect(run([['client', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03']])).toEqual(['lost client not-http']);
    expect(run([['client', GET('/')], ['server', OK('x')], ['client', '\x81\x85abcd']])).toEqual(['request#0 GET /', 'end#0 client', 'response#0 200 length', 'body#0 server x', 'end#0 server', 'lost client not-http']);
  });

  it('hands out the bytes of a head that is not HTTP, for sniffing', () => {
    const http = new HttpConnection();
    http.push('client', bytes(GET('/')));
    http.push('server', bytes(OK('')));
    const [lost] = http.push('client', bytes('\x16\x03\x01\x00\x05hello'));
    expect(lost).toMatchObject({ type: 'lost', reason: 'not-http' });
    expect(text((lost as { head: Uint8Array }).head)).toBe('\x16\x03\x01\x00\x05hello');
  });

  it('reports a bad Content-Length, a non-chunked request coding and a bad chunk size, and stops', () => {
    expect(run([['client', GET('/')], ['server', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello']])).toEqual(['request#0 GET /', 'end#0 client', 'response#0 200 invalid', 'alert http.content-length-invalid', 'lost server framing']);
    expect(run([['client', 'POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n']])).toEqual(['request#0 POST /', 'alert http.transfer-coding-invalid', 'lost client framing']);
    expect(run([['client', GET('/')], ['server', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n']])).toEqual(['request#0 GET /', 'end#0 client', 'response#0 200 chunked', 'alert http.chunk-invalid', 'lost server framing']);
    expect(run([['client', GET('/')], ['server', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX']])).toEqual(['request#0 GET /', 'end#0 client', 'response#0 200 chunked', 'body#0 server abc', 'alert http.chunk-invalid', 'lost server framing']);
  });

  it('lets Transfer-Encoding win over Content-Length, with an alert (RFC 9112 §6.1)', () => {
    expect(run([['client', 'POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nz\r\n0\r\n\r\n' + GET('/next')]]).slice(0, 6)).toEqual([
      'request#0 POST /',
      'alert http.length-and-chunked',
      'body#0 client z',
      'end#0 client',
      'request#1 GET /next',
      'end#1 client',
    ]);
  });

  it('keeps the framing across missing bytes inside a body of known size, and loses it in a head', () => {
    expect(run([['client', GET('/')], ['server', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], ['gap', 'server', 4], ['server', 'hij'], ['client', UPGRADE()], ['server', SWITCHING]])).toEqual([
      'request#0 GET /',
      'end#0 client',
      'response#0 200 length',
      'body#0 server abc',
      'alert http.body-incomplete',
      'body#0 server hij',
      'end#0 server',
      'request#1 GET /chat',
      'end#1 client',
      'response#1 101 switch',
      'switch#1',
      'after client="" server=""',
    ]);
    expect(run([['client', 'GET / HTT'], ['gap', 'client', 10]])).toEqual(['lost client gap']);
    expect(run([['client', UPGRADE()], ['gap', 'client', 3], ['server', SWITCHING]]).slice(-1)).toEqual(['after client="[gap 3]" server=""']);
  });

  it('says when a stream ends inside a body, and which requests were never answered', () => {
    expect(run([['client', GET('/a') + GET('/b')], ['server', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'], ['end', 'server']])).toEqual([
      'request#0 GET /a',
      'end#0 client',
      'request#1 GET /b',
      'end#1 client',
      'response#0 200 length',
      'body#0 server abc',
      'alert http.body-incomplete',
      'end#0 server incomplete',
      'unanswered#1',
    ]);
  });

  it('reads a response that answers no request as the answer to a GET', () => {
    expect(run([['client', GET('/')], ['server', OK('a') + 'HTTP/1.1 408 Request Timeout\r\nContent-Length: 2\r\nConnection: close\r\n\r\nto']])).toEqual([
      'request#0 GET /',
      'end#0 client',
      'response#0 200 length',
      'body#0 server a',
      'end#0 server',
      'alert http.response-without-request',
      'response#1 408 length',
      'body#1 server to',
      'end#1 server',
    ]);
  });
});

describe('HttpConnection: the same events however the bytes are split', () => {
  const scripts: Step[][] = [
    [['client', GET('/page')], ['server', OK('hello')], ['client', UPGRADE() + 'early'], ['server', SWITCHING + 'frames']],
    [['client', GET('/a') + `HEAD /b HTTP/1.1\r\nHost: x\r\n\r\n` + UPGRADE()], ['server', OK('aaa') + 'HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\n' + 'HTTP/1.1 401 Unauthorized\r\nContent-Length: 3\r\n\r\nno!'], ['client', GET('/c')], ['server', CHUNKED]],
    [['client', 'POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n10\r\n0123456789abcdef\r\n0\r\nT: v\r\n\r\n\r\n' + GET('/y')], ['server', 'HTTP/1.1 100 Continue\r\n\r\n' + OK('1') + 'HTTP/1.0 200 OK\r\n\r\nuntil close'], ['end', 'server']],
  ];

  const splitAt = (points: number[]) => (data: Uint8Array) => {
    const cuts = [...new Set(points.map((p) => p % (data.length + 1)))].sort((a, b) => a - b);
    const pieces: Uint8Array[] = [];
    let from = 0;
    for (const cut of cuts) {
      pieces.push(data.subarray(from, cut));
      from = cut;
    }
    pieces.push(data.subarray(from));
    return pieces.filter((p) => p.length > 0);
  };

  it('byte by byte', () => {
    for (const script of scripts) {
      expect(run(script, {}, (d) => Array.from(d, (b) => Uint8Array.of(b)))).toEqual(run(script));
    }
  });

  it('at random split points (fast-check)', () => {
    fc.assert(
      fc.property(fc.constantFrom(...scripts.keys()), fc.array(fc.nat(), { maxLength: 10 }), (which, points) => {
        expect(run(scripts[which]!, {}, splitAt(points))).toEqual(run(scripts[which]!));
      }),
      { numRuns: runs(300) },
    );
  });

  it('never throws on random bytes, and keeps no body (fast-check)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.uint8Array({ maxLength: 64 })), { maxLength: 12 }), (pieces) => {
        const http = new HttpConnection();
        for (const [fromClient, data] of pieces) http.push(fromClient ? 'client' : 'server', data);
        http.finish();
      }),
      { numRuns: runs(300) },
    );
  });
});

describe('contentLength (RFC 9110 §8.6, RFC 9112 §6.3)', () => {
  it('takes one number, or repeated equal ones, and nothing else', () => {
    expect(contentLength(['42'])).toBe(42);
    expect(contentLength(['7, 7', '7'])).toBe(7);
    expect(contentLength(['7, 8'])).toBeNull();
    expect(contentLength(['-1'])).toBeNull();
    expect(contentLength(['1e3'])).toBeNull();
    expect(contentLength(['9223372036854775808'])).toBeNull();
    expect(contentLength([''])).toBeNull();
  });
});
