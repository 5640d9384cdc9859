/**
 * Builds whole packets: Ethernet II + IPv4 (RFC 791) or IPv6 (RFC 8200) + TCP (RFC 9293), with
 * correct lengths and checksums. Pure, no I/O. The recorder (src/capture/tcp-recorder.ts) uses
 * it to turn relayed byte streams into captures that Wireshark and our own decoder accept.
 */

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;
const PROTO_TCP = 6;

/** Locally administered (RFC 9542 §2.1: second-lowest bit of the first octet) so they can never clash with real hardware. */
export const DEFAULT_CLIENT_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x01);
export const DEFAULT_SERVER_MAC = Uint8Array.of(0x02, 0x00, 0x00, 0x00, 0x00, 0x02);

export interface TcpFlagSet {
  fin?: boolean;
  syn?: boolean;
  rst?: boolean;
  psh?: boolean;
  ack?: boolean;
  urg?: boolean;
}

export interface TcpPacketSpec {
  /** IPv4 dotted quad or any RFC 4291 §2.2 IPv6 text; both ends must be the same version. */
  srcIp: string;
  dstIp: string;
  srcPort: number;
  dstPort: number;
  /** Unsigned 32-bit; values outside are wrapped. */
  seq: number;
  ack: number;
  flags: TcpFlagSet;
  /** Default 65535. */
  window?: number;
  /** Adds the MSS option (RFC 9293 §3.2); only meaningful on SYN and SYN+ACK. */
  mss?: number;
  payload?: Uint8Array;
  /** IPv4 identification field (RFC 791 §3.1, RFC 6864); ignored for IPv6. Default 0. */
  ipId?: number;
  /** Default 64 (RFC 1700's recommended default TTL, what Linux uses). */
  ttl?: number;
  srcMac?: Uint8Array;
  dstMac?: Uint8Array;
}

export interface ParsedAddress {
  version: 4 | 6;
  bytes: Uint8Array;
}

/** RFC 791 dotted quad, four decimal octets without leading zeros (those are ambiguous: octal to some parsers). */
export function parseIpv4(text: string): Uint8Array {
  const parts = text.split('.');
  if (parts.length !== 4) throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  const out = new Uint8Array(4);
  parts.forEach((part, i) => {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(part) || Number(part) > 255) {
      throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
    }
    out[i] = Number(part);
  });
  return out;
}

/**
 * RFC 4291 §2.2: eight groups of 1-4 hex digits, one "::" standing for one or more zero groups,
 * and optionally a trailing dotted quad for the last 32 bits. A zone index (RFC 4007 §11,
 * "fe80::1%eth0") is dropped: it never appears in the packet.
 */
export function parseIpv6(text: string): Uint8Array {
  const fail = (): never => {
    throw new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  };
  let rest = text;
  const zone = rest.indexOf('%');
  if (zone >= 0) {
    if (zone === rest.length - 1) fail();
    rest = rest.slice(0, zone);
  }
  const groups = (part: string, allowDotted: boolean): number[] => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    pieces.forEach((piece, i) => {
      if (allowDotted && i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIpv4(piece);
        out.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
        return;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) fail();
      out.push(Number.parseInt(piece, 16));
    });
    return out;
  };
  const halves = rest.split('::');
  let all: number[];
  if (halves.length === 1) {
    all = groups(rest, true);
    if (all.length !== 8) fail();
  } else if (halves.length === 2) {
    const left = groups(halves[0]!, false);
    const right = groups(halves[1]!, true);
    // "::" stands for at least one group (RFC 4291 §2.2 item 2), so at most 7 are written.
    if (left.length + right.length > 7) fail();
    all = [...left, ...new Array<number>(8 - left.length - right.length).fill(0), ...right];
  } else {
    return fail();
  }
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

export function parseIpAddress(text: string): ParsedAddress {
  return text.includes(':') ? { version: 6, bytes: parseIpv6(text) } : { version: 4, bytes: parseIpv4(text) };
}

/**
 * The Internet checksum (RFC 1071): the one's complement of the one's complement sum of 16-bit
 * big-endian words over all parts taken as one byte string (an odd total length is padded with
 * a zero byte at the very end, so parts are summed as if concatenated).
 */
export function internetChecksum(...parts: Uint8Array[]): number {
  let sum = 0;
  let odd = false;
  for (const part of parts) {
    for (let i = 0; i < part.length; i++) {
      sum += odd ? part[i]! : part[i]! << 8;
      odd = !odd;
    }
    // Folding after each part keeps the sum exact (far below 2^53) whatever the lengths.
    sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  }
  while (sum > 0xffff) sum = (sum % 0x10000) + Math.floor(sum / 0x10000);
  return ~sum & 0xffff;
}

function checkPort(port: number, what: string): void {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`${what} ${port} is not a TCP port`);
}

function flagByte(flags: TcpFlagSet): number {
  return (
    (flags.fin === true ? 0x01 : 0) |
    (flags.syn === true ? 0x02 : 0) |
    (flags.rst === true ? 0x04 : 0) |
    (flags.psh === true ? 0x08 : 0) |
    (flags.ack === true ? 0x10 : 0) |
    (flags.urg === true ? 0x20 : 0)
  );
}

/** The TCP pseudo-header: RFC 9293 §3.1 for IPv4, RFC 8200 §8.1 for IPv6. */
function pseudoHeader(src: ParsedAddress, dst: ParsedAddress, tcpLength: number): Uint8Array {
  if (src.version === 4) {
    const out = new Uint8Array(12);
    out.set(src.bytes, 0);
    out.set(dst.bytes, 4);
    out[9] = PROTO_TCP;
    new DataView(out.buffer).setUint16(10, tcpLength);
    return out;
  }
  const out = new Uint8Array(40);
  out.set(src.bytes, 0);
  out.set(dst.bytes, 16);
  new DataView(out.buffer).setUint32(32, tcpLength);
  out[39] = PROTO_TCP;
  return out;
}

/** A TCP header (with the MSS option when asked for) and payload, checksummed for these addresses. */
export function encodeTcpSegment(spec: TcpPacketSpec, src: ParsedAddress, dst: ParsedAddress): Uint8Array {
  checkPort(spec.srcPort, 'source port');
  checkPort(spec.dstPort, 'destination port');
  const payload = spec.payload ?? new Uint8Array(0);
  // Kind 2, length 4, 16-bit value: 4 bytes, so the header stays a multiple of 32 bits.
  const optionLength = spec.mss !== undefined ? 4 : 0;
  const headerLength = 20 + optionLength;
  const out = new Uint8Array(headerLength + payload.length);
  const view = new DataView(out.buffer);
  view.setUint16(0, spec.srcPort);
  view.setUint16(2, spec.dstPort);
  view.setUint32(4, spec.seq >>> 0);
  view.setUint32(8, spec.ack >>> 0);
  out[12] = (headerLength / 4) << 4;
  out[13] = flagByte(spec.flags);
  view.setUint16(14, spec.window ?? 0xffff);
  if (spec.mss !== undefined) {
    if (!Number.isInteger(spec.mss) || spec.mss < 1 || spec.mss > 0xffff) throw new RangeError(`MSS ${spec.mss} does not fit 16 bits`);
    out[20] = 2;
    out[21] = 4;
    view.setUint16(22, spec.mss);
  }
  out.set(payload, headerLength);
  view.setUint16(16, internetChecksum(pseudoHeader(src, dst, out.length), out));
  return out;
}

/** RFC 791 §3.1: 20-byte header without options, DF set (as Linux sends TCP, RFC 1191 path MTU discovery). */
export function encodeIpv4(src: Uint8Array, dst: Uint8Array, payload: Uint8Array, id: number, ttl = 64): Uint8Array {
  const totalLength = 20 + payload.length;
  if (totalLength > 0xffff) throw new RangeError(`IPv4 packet of ${totalLength} bytes exceeds 65535`);
  const out = new Uint8Array(totalLength);
  const view = new DataView(out.buffer);
  out[0] = 0x45;
  view.setUint16(2, totalLength);
  view.setUint16(4, id & 0xffff);
  view.setUint16(6, 0x4000);
  out[8] = ttl;
  out[9] = PROTO_TCP;
  out.set(src, 12);
  out.set(dst, 16);
  view.setUint16(10, internetChecksum(out.subarray(0, 20)));
  out.set(payload, 20);
  return out;
}

/** RFC 8200 §3: fixed 40-byte header, no extension headers, traffic class and flow label 0. */
export function encodeIpv6(src: Uint8Array, dst: Uint8Array, payload: Uint8Array, hopLimit = 64): Uint8Array {
  if (payload.length > 0xffff) throw new RangeError(`IPv6 payload of ${payload.length} bytes needs a jumbogram`);
  const out = new Uint8Array(40 + payload.length);
  const view = new DataView(out.buffer);
  out[0] = 0x60;
  view.setUint16(4, payload.length);
  out[6] = PROTO_TCP;
  out[7] = hopLimit;
  out.set(src, 8);
  out.set(dst, 24);
  out.set(payload, 40);
  return out;
}

/** IEEE 802.3 Ethernet II header. No padding to 60 bytes: captures on the sending host show frames before the NIC pads them. */
export function encodeEthernet(dstMac: Uint8Array, srcMac: Uint8Array, etherType: number, payload: Uint8Array): Uint8Array {
  if (dstMac.length !== 6 || srcMac.length !== 6) throw new RangeError('MAC addresses have 6 bytes');
  const out = new Uint8Array(14 + payload.length);
  out.set(dstMac, 0);
  out.set(srcMac, 6);
  out[12] = etherType >> 8;
  out[13] = etherType & 0xff;
  out.set(payload, 14);
  return out;
}

/** One whole Ethernet frame carrying one TCP segment over IPv4 or IPv6 (chosen by the address text). */
export function encodeTcpPacket(spec: TcpPacketSpec): Uint8Array {
  const src = parseIpAddress(spec.srcIp);
  const dst = parseIpAddress(spec.dstIp);
  if (src.version !== dst.version) throw new RangeError(`cannot send from IPv${src.version} ${spec.srcIp} to IPv${dst.version} ${spec.dstIp}`);
  const segment = encodeTcpSegment(spec, src, dst);
  const ttl = spec.ttl ?? 64;
  const ip = src.version === 4 ? encodeIpv4(src.bytes, dst.bytes, segment, spec.ipId ?? 0, ttl) : encodeIpv6(src.bytes, dst.bytes, segment, ttl);
  return encodeEthernet(spec.dstMac ?? DEFAULT_SERVER_MAC, spec.srcMac ?? DEFAULT_CLIENT_MAC, src.version === 4 ? ETHERTYPE_IPV4 : ETHERTYPE_IPV6, ip);
}
