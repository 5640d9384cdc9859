import { describe, expect, it } from 'vitest';
import { checkFrameHeader, MaskingKeyTracker } from '../../src/websocket/rules.js';
import { codes, makeFrame } from './frame-factory.js';

const deflate = { allowedRsv: 4 };
const none = { allowedRsv: 0 };

describe('checkFrameHeader (RFC 6455 §5)', () => {
  it('accepts well-formed client and server frames', () => {
    expect(checkFrameHeader(makeFrame({ opcode: 1, direction: 'client', data: 'hi' }), none)).toEqual([]);
    expect(checkFrameHeader(makeFrame({ opcode: 2, direction: 'server', data: 'hi' }), none)).toEqual([]);
    expect(checkFrameHeader(makeFrame({ opcode: 9, direction: 'server', payloadLength: 125 }), none)).toEqual([]);
  });

  it('flags RSV bits no extension defines (§5.2), and accepts RSV1 under permessage-deflate', () => {
    const f = makeFrame({ opcode: 1, rsv1: true, rsv3: true });
    expect(codes(checkFrameHeader(f, none))).toEqual(['frame.rsv-unnegotiated']);
    expect(checkFrameHeader(f, none)[0]!.message).toContain('RSV1, RSV3');
    expect(codes(checkFrameHeader(f, deflate))).toEqual(['frame.rsv-unnegotiated']);
    expect(checkFrameHeader(makeFrame({ opcode: 1, rsv1: true }), deflate)).toEqual([]);
  });

  it('does not judge RSV bits when the extensions are unknown (mid-stream)', () => {
    expect(checkFrameHeader(makeFrame({ opcode: 1, rsv1: true, rsv2: true }), { allowedRsv: null })).toEqual([]);
  });

  it.each([3, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf])('flags reserved opcode 0x%s (§5.2)', (opcode) => {
    expect(codes(checkFrameHeader(makeFrame({ opcode }), none))).toContain('frame.opcode-reserved');
  });

  it('flags an unmasked client frame and a masked server frame (§5.1)', () => {
    expect(codes(checkFrameHeader(makeFrame({ opcode: 1, direction: 'client', masked: false }), none))).toEqual(['frame.client-unmasked']);
    expect(codes(checkFrameHeader(makeFrame({ opcode: 1, direction: 'server', masked: true }), none))).toEqual(['frame.server-masked']);
  });

  it('flags control frames over 125 bytes or with FIN clear (§5.5)', () => {
    expect(codes(checkFrameHeader(makeFrame({ opcode: 9, payloadLength: 126 }), none))).toEqual(['frame.control-too-long']);
    expect(codes(checkFrameHeader(makeFrame({ opcode: 8, fin: false }), none))).toEqual(['frame.control-fragmented']);
    // A reserved control opcode is still a control frame.
    expect(codes(checkFrameHeader(makeFrame({ opcode: 0xb, fin: false }), none))).toEqual(['frame.opcode-reserved', 'frame.control-fragmented']);
  });

  it('flags non-minimal length encodings (§5.2)', () => {
    expect(codes(checkFrameHeader(makeFrame({ opcode: 2, payloadLength: 125, lengthEncoding: 16 }), none))).toEqual(['frame.length-not-minimal']);
    expect(codes(checkFrameHeader(makeFrame({ opcode: 2, payloadLength: 65535, lengthEncoding: 64 }), none))).toEqual(['frame.length-not-minimal']);
    expect(checkFrameHeader(makeFrame({ opcode: 2, payloadLength: 126, lengthEncoding: 16 }), none)).toEqual([]);
    expect(checkFrameHeader(makeFrame({ opcode: 2, payloadLength: 65536, lengthEncoding: 64 }), none)).toEqual([]);
  });

  it('warns about an all-zero masking key (§10.3)', () => {
    const alerts = checkFrameHeader(makeFrame({ opcode: 1, direction: 'client', maskingKey: new Uint8Array(4) }), none);
    expect(codes(alerts)).toEqual(['mask.key-zero']);
    expect(alerts[0]!.severity).toBe('warning');
  });

  it('carries direction, offset, packet and section on every alert', () => {
    const [alert] = checkFrameHeader(makeFrame({ opcode: 1, direction: 'client', masked: false, offset: 42, start: { packet: 7 } }), none);
    expect(alert).toMatchObject({ direction: 'client', offset: 42, packet: 7, section: 'RFC 6455 §5.1', severity: 'error' });
  });
});

describe('MaskingKeyTracker (§5.3)', () => {
  const keyed = (key: number[]) => makeFrame({ opcode: 1, direction: 'client', maskingKey: new Uint8Array(key) });

  it('flags a key reused within the recent window, not fresh keys', () => {
    const t = new MaskingKeyTracker(4);
    expect(t.check(keyed([1, 2, 3, 4]))).toBeNull();
    expect(t.check(keyed([5, 6, 7, 8]))).toBeNull();
    expect(t.check(keyed([1, 2, 3, 4]))?.code).toBe('mask.key-repeated');
  });

  it('forgets keys older than its window (random keys collide by chance over long connections)', () => {
    const t = new MaskingKeyTracker(2);
    t.check(keyed([1, 1, 1, 1]));
    t.check(keyed([2, 2, 2, 2]));
    t.check(keyed([3, 3, 3, 3]));
    expect(t.check(keyed([1, 1, 1, 1]))).toBeNull();
  });

  it('ignores unmasked frames', () => {
    const t = new MaskingKeyTracker();
    expect(t.check(makeFrame({ opcode: 1, direction: 'server' }))).toBeNull();
  });
});
