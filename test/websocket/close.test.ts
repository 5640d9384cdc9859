import { describe, expect, it } from 'vitest';
import { decodeClose } from '../../src/websocket/close.js';
import { closeCodeName, isValidCloseCode } from '../../src/websocket/constants.js';
import { codes } from './frame-factory.js';

const body = (code: number, reason: Uint8Array | string = '') => {
  const r = typeof reason === 'string' ? new TextEncoder().encode(reason) : reason;
  return new Uint8Array([code >> 8, code & 0xff, ...r]);
};

describe('close codes (RFC 6455 §7.4)', () => {
  it('names every registered code 1000-1015 and the ranges', () => {
    expect(closeCodeName(1000)).toBe('Normal Closure');
    expect(closeCodeName(1001)).toBe('Going Away');
    expect(closeCodeName(1002)).toBe('Protocol Error');
    expect(closeCodeName(1007)).toBe('Invalid Frame Payload Data');
    expect(closeCodeName(1011)).toBe('Internal Error');
    expect(closeCodeName(1015)).toBe('TLS Handshake');
    for (let c = 1000; c <= 1015; c++) expect(closeCodeName(c)).not.toMatch(/range|Reserved for the protocol/);
    expect(closeCodeName(3000)).toMatch(/3000-3999/);
    expect(closeCodeName(4999)).toMatch(/4000-4999/);
    expect(closeCodeName(2000)).toMatch(/1016-2999/);
  });

  it('knows which codes may be sent', () => {
    const valid = [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999];
    const invalid = [0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535];
    for (const c of valid) expect(isValidCloseCode(c), String(c)).toBe(true);
    for (const c of invalid) expect(isValidCloseCode(c), String(c)).toBe(false);
  });
});

describe('decodeClose (§5.5.1)', () => {
  it('decodes code and reason', () => {
    const { close, alerts } = decodeClose(body(1000, 'bye ✓'));
    expect(close).toEqual({ code: 1000, codeName: 'Normal Closure', reason: 'bye ✓', reasonValid: true });
    expect(alerts).toEqual([]);
  });

  it('treats an empty body as "no status" without an alert', () => {
    const { close, alerts } = decodeClose(new Uint8Array(0));
    expect(close.code).toBeNull();
    expect(close.codeName).toMatch(/No Status/);
    expect(alerts).toEqual([]);
  });

  it('flags a 1-byte body', () => {
    expect(codes(decodeClose(new Uint8Array([3])).alerts)).toEqual(['close.payload-one-byte']);
  });

  it.each([999, 1004, 1005, 1006, 1015, 1016, 2999, 5000])('flags code %i as invalid on the wire', (code) => {
    const { close, alerts } = decodeClose(body(code));
    expect(close.code).toBe(code);
    expect(codes(alerts)).toEqual(['close.code-invalid']);
    expect(alerts[0]!.detail).toEqual({ code });
  });

  it('flags a reason that is not UTF-8 and still shows it', () => {
    const { close, alerts } = decodeClose(body(1000, new Uint8Array([0x61, 0xff, 0x62])), { direction: 'client', packet: 3 });
    expect(close.reasonValid).toBe(false);
    expect(close.reason).toBe('a\ufffdb');
    expect(alerts).toMatchObject([{ code: 'close.reason-utf8-invalid', direction: 'client', packet: 3 }]);
  });
});
