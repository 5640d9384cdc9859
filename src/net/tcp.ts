/** The TCP header (RFC 9293 §3.1). */
import type { MalformedPacket, TcpSegment } from './types.js';

export interface IpContext {
  ipVersion: 4 | 6;
  src: string;
  dst: string;
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/**
 * Decodes a TCP header from the captured bytes of the IP payload, `bytes[start, end)`;
 * `missing` is how many bytes of that payload the capture cut off. A header cut by the capture
 * is "truncated"; a header that does not fit in what the IP layer declared is malformed.
 */
export function decodeTcp(ip: IpContext, bytes: Uint8Array, missing: number, start = 0, end = bytes.length): TcpSegment | MalformedPacket {
  const captured = end - start;
  const declared = captured + missing;
  if (declared < 20) {
    return { kind: 'malformed', reason: `TCP segment of ${declared} bytes is shorter than the 20-byte header`, truncated: false };
  }
  if (captured < 20) return { kind: 'malformed', reason: 'truncated TCP header', truncated: true };
  // Data offset: header length in 32-bit words, options included (RFC 9293 §3.1).
  const headerLength = (bytes[start + 12]! >> 4) * 4;
  if (headerLength < 20) {
    return { kind: 'malformed', reason: `TCP data offset ${headerLength / 4} is below 5`, truncated: false };
  }
  if (headerLength > declared) {
    return { kind: 'malformed', reason: `TCP header length ${headerLength} exceeds the segment length ${declared}`, truncated: false };
  }
  if (headerLength > captured) return { kind: 'malformed', reason: 'truncated TCP options', truncated: true };
  const flags = bytes[start + 13]!;
  return {
    kind: 'tcp',
    ipVersion: ip.ipVersion,
    src: ip.src,
    dst: ip.dst,
    srcPort: (bytes[start]! << 8) | bytes[start + 1]!,
    dstPort: (bytes[start + 2]! << 8) | bytes[start + 3]!,
    seq: u32(bytes, start + 4),
    ack: u32(bytes, start + 8),
    flags: {
      fin: (flags & 0x01) !== 0,
      syn: (flags & 0x02) !== 0,
      rst: (flags & 0x04) !== 0,
      psh: (flags & 0x08) !== 0,
      ack: (flags & 0x10) !== 0,
      urg: (flags & 0x20) !== 0,
    },
    window: (bytes[start + 14]! << 8) | bytes[start + 15]!,
    payload: bytes.subarray(start + headerLength, end),
    missing,
  };
}
