/** The TCP header (RFC 9293 §3.1). */
import type { MalformedPacket, TcpSegment } from './types.js';

export interface IpContext {
  ipVersion: 4 | 6;
  src: string;
  dst: string;
}

/**
 * Decodes a TCP header from the captured bytes of the IP payload; `missing` is how many bytes
 * of that payload the capture cut off. A header cut by the capture is "truncated"; a header
 * that does not fit in what the IP layer declared is malformed.
 */
export function decodeTcp(ip: IpContext, bytes: Uint8Array, missing: number): TcpSegment | MalformedPacket {
  const declared = bytes.length + missing;
  if (declared < 20) {
    return { kind: 'malformed', reason: `TCP segment of ${declared} bytes is shorter than the 20-byte header`, truncated: false };
  }
  if (bytes.length < 20) return { kind: 'malformed', reason: 'truncated TCP header', truncated: true };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // Data offset: header length in 32-bit words, options included (RFC 9293 §3.1).
  const headerLength = (bytes[12]! >> 4) * 4;
  if (headerLength < 20) {
    return { kind: 'malformed', reason: `TCP data offset ${headerLength / 4} is below 5`, truncated: false };
  }
  if (headerLength > declared) {
    return { kind: 'malformed', reason: `TCP header length ${headerLength} exceeds the segment length ${declared}`, truncated: false };
  }
  if (headerLength > bytes.length) return { kind: 'malformed', reason: 'truncated TCP options', truncated: true };
  const flags = bytes[13]!;
  return {
    kind: 'tcp',
    ipVersion: ip.ipVersion,
    src: ip.src,
    dst: ip.dst,
    srcPort: view.getUint16(0),
    dstPort: view.getUint16(2),
    seq: view.getUint32(4),
    ack: view.getUint32(8),
    flags: {
      fin: (flags & 0x01) !== 0,
      syn: (flags & 0x02) !== 0,
      rst: (flags & 0x04) !== 0,
      psh: (flags & 0x08) !== 0,
      ack: (flags & 0x10) !== 0,
      urg: (flags & 0x20) !== 0,
    },
    window: view.getUint16(14),
    payload: bytes.subarray(headerLength),
    missing,
  };
}
