import { describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { computeAccept, isValidKey } from '../../src/http/accept.js';

describe('computeAccept', () => {
  it('gives the RFC 6455 §1.3 example value', () => {
    expect(computeAccept('dGhlIHNhbXBsZSBub25jZQ==')).toBe('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=');
  });

  it('hashes the key as the bytes that crossed the wire (a header decoded as latin1)', () => {
    const wire = Buffer.from([0x41, 0xe9, 0xff]);
    const expected = createHash('sha1').update(Buffer.concat([wire, Buffer.from('258EAFA5-E914-47DA-95CA-C5AB0DC85B11')])).digest('base64');
    expect(computeAccept(wire.toString('latin1'))).toBe(expected);
  });

  it('always yields base64 of a 20-byte SHA-1 digest', () => {
    fc.assert(
      fc.property(fc.string(), (key) => {
        expect(computeAccept(key)).toMatch(/^[A-Za-z0-9+/]{27}=$/);
      }),
    );
  });
});

describe('isValidKey', () => {
  it('accepts the RFC 6455 §1.3 sample key', () => {
    expect(isValidKey('dGhlIHNhbXBsZSBub25jZQ==')).toBe(true);
  });

  it('accepts the base64 encoding of any 16 bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), (bytes) => {
        expect(isValidKey(Buffer.from(bytes).toString('base64'))).toBe(true);
      }),
    );
  });

  it('rejects other lengths', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }).filter((bytes) => bytes.length !== 16), (bytes) => {
        expect(isValidKey(Buffer.from(bytes).toString('base64'))).toBe(false);
      }),
    );
  });

  it.each([
    ['empty', ''],
    ['unpadded', 'dGhlIHNhbXBsZSBub25jZQ'],
    ['surrounding space', ' dGhlIHNhbXBsZSBub25jZQ== '],
    ['url-safe alphabet', 'dGhlIHNhbXBs_SBub2-jZQ=='],
    ['non-zero padding bits', 'dGhlIHNhbXBsZSBub25jZR=='],
    ['invalid character', 'dGhlIHNhbXBsZSBub25j!Q=='],
    ['12 bytes', 'AAAAAAAAAAAAAAAA'],
    ['17 bytes', 'AAAAAAAAAAAAAAAAAAAAAAA='],
  ])('rejects %s', (_label, key) => {
    expect(isValidKey(key)).toBe(false);
  });
});
