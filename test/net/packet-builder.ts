/**
 * Builders for hand-made packets in tests: link headers, IPv4/IPv6 and TCP with correct
 * lengths and checksums. Any test that needs a frame (decoder, reassembler, capture writer,
 * end-to-end) can reuse them.
 */

export interface TcpFlagsInput {
  syn?: boolean;
  ack?: boolean;
  fin?: boolean;
  rst?: boolean;
  psh?: boolean;
  urg?: boolean;
}

export interface TcpHeaderInput {
  srcPort: number;
  dstPort: number;
  seq?: number;
  ack?: number;
  /** Either flag booleans or letters: S (SYN), A (ACK), F (FIN), R (RST), P (PSH), U (URG). */
  flags?: TcpFlagsInput | string;
  window?: number;
  /** Raw option bytes; padded with zeros (EOL) to a multiple of 4. */
  options?: Uint8Array;
  payload?: Uint8Array | string;
}

export interface Ipv4Input {
  src: string;
  dst: string;
  protocol?: number;
  payload: Uint8Array;
  id?: number;
  ttl?: number;
  dontFragment?: boolean;
  moreFragments?: boolean;
  /** In bytes; must be a multiple of 8. */
  fragmentOffset?: number;
  /** Raw option bytes; padded to a multiple of 4. */
  options?: Uint8Array;
  /** Overrides the computed total length (to build malformed packets). */
  totalLength?: number;
}

export interface Ipv6ExtensionInput {
  /** 0 hop-by-hop, 43 routing, 44 fragment, 51 AH, 60 destination options. */
  type: number;
  /** Body after the next-header and length octets (ignored for 44); padded to the header's unit. */
  body?: Uint8Array;
  /** For type 44. */
  fragmentOffset?: number;
  moreFragments?: boolean;
  identification?: number;
}

export interface Ipv6Input {
  src: string;
  dst: string;
  nextHeader?: number;
  payload: Uint8Array;
  extensions?: Ipv6ExtensionInput[];
  hopLimit?: number;
  /** Overrides the computed payload length. */
  payloadLength?: number;
}

const encoder = new TextEncoder();

export function bytes(input: Uint8Array | string | undefined): Uint8Array {
  if (input === undefined) return new Uint8Array(0);
  return typeof input === 'string' ? encoder.encode(input) : input;
}

export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

export function hex(text: string): Uint8Array {
  const clean = text.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function padTo(data: Uint8Array, unit: number): Uint8Array {
  const length = Math.ceil(data.length / unit) * unit;
  if (length === data.length) return data;
  const out = new Uint8Array(length);
  out.set(data);
  return out;
}

export function parseIpv4(address: string): Uint8Array {
  const parts = address.split('.').map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) {
    throw new Error(`not an IPv4 address: ${address}`);
  }
  return Uint8Array.from(parts);
}

export function parseIpv6(address: string): Uint8Array {
  let text = address;
  const tail: number[] = [];
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted !== null) {
    const v4 = parseIpv4(dotted[1]!);
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    text = text.slice(0, -dotted[1]!.length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head, rest] = text.split('::') as [string, string | undefined];
  const groups = (s: string): number[] => (s === '' ? [] : s.split(':').map((g) => Number.parseInt(g, 16)));
  const left = groups(head);
  const right = [...(rest === undefined ? [] : groups(rest)), ...tail];
  const fill = rest === undefined ? 0 : 8 - left.length - right.length;
  const all = rest === undefined ? [...left, ...tail] : [...left, ...new Array<number>(fill).fill(0), ...right];
  if (all.length !== 8) throw new Error(`not an IPv6 address: ${address}`);
  const out = new Uint8Array(16);
  all.forEach((g, i) => {
    out[2 * i] = g >> 8;
    out[2 * i + 1] = g & 0xff;
  });
  return out;
}

/** RFC 1071 one's-complement sum of 16-bit words (an odd last byte is padded with zero). */
function checksum(...parts: Uint8Array[]): number {
  const data = concat(...parts);
  let sum = 0;
  for (let i = 0; i < data.length; i += 2) sum += (data[i]! << 8) | (data[i + 1] ?? 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

function flagBits(flags: TcpFlagsInput | string | undefined): number {
  const f: TcpFlagsInput =
    typeof flags === 'string'
      ? {
          syn: flags.includes('S'),
          ack: flags.includes('A'),
          fin: flags.includes('F'),
          rst: flags.includes('R'),
          psh: flags.includes('P'),
          urg: flags.includes('U'),
        }
      : (flags ?? { ack: true });
  return (f.fin ? 1 : 0) | (f.syn ? 2 : 0) | (f.rst ? 4 : 0) | (f.psh ? 8 : 0) | (f.ack ? 0x10 : 0) | (f.urg ? 0x20 : 0);
}

/** A TCP header plus payload; the checksum is left zero (use `withTcpChecksum` for a real one). */
export function buildTcp(input: TcpHeaderInput): Uint8Array {
  const options = padTo(input.options ?? new Uint8Array(0), 4);
  const payload = bytes(input.payload);
  const header = new Uint8Array(20 + options.length);
  const view = new DataView(header.buffer);
  view.setUint16(0, input.srcPort);
  view.setUint16(2, input.dstPort);
  view.setUint32(4, (input.seq ?? 0) >>> 0);
  view.setUint32(8, (input.ack ?? 0) >>> 0);
  header[12] = (header.length / 4) << 4;
  header[13] = flagBits(input.flags);
  view.setUint16(14, input.window ?? 65535);
  header.set(options, 20);
  return concat(header, payload);
}

/** Fills in the TCP checksum over the pseudo-header (RFC 9293 §3.1) for IPv4 or IPv6 addresses. */
export function withTcpChecksum(segment: Uint8Array, src: string, dst: string): Uint8Array {
  const out = segment.slice();
  out[16] = 0;
  out[17] = 0;
  const v6 = src.includes(':');
  const pseudo = v6
    ? concat(parseIpv6(src), parseIpv6(dst), new Uint8Array([0, 0, out.length >> 8, out.length & 0xff, 0, 0, 0, 6]))
    : concat(parseIpv4(src), parseIpv4(dst), new Uint8Array([0, 6, out.length >> 8, out.length & 0xff]));
  const sum = checksum(pseudo, out);
  out[16] = sum >> 8;
  out[17] = sum & 0xff;
  return out;
}

export function buildIpv4(input: Ipv4Input): Uint8Array {
  const options = padTo(input.options ?? new Uint8Array(0), 4);
  const headerLength = 20 + options.length;
  const header = new Uint8Array(headerLength);
  const view = new DataView(header.buffer);
  header[0] = 0x40 | (headerLength / 4);
  view.setUint16(2, input.totalLength ?? headerLength + input.payload.length);
  view.setUint16(4, input.id ?? 0);
  const offset = (input.fragmentOffset ?? 0) / 8;
  view.setUint16(6, (input.dontFragment ? 0x4000 : 0) | (input.moreFragments ? 0x2000 : 0) | offset);
  header[8] = input.ttl ?? 64;
  header[9] = input.protocol ?? 6;
  header.set(parseIpv4(input.src), 12);
  header.set(parseIpv4(input.dst), 16);
  header.set(options, 20);
  view.setUint16(10, checksum(header));
  return concat(header, input.payload);
}

export function buildIpv6(input: Ipv6Input): Uint8Array {
  const extensions = input.extensions ?? [];
  const finalNext = input.nextHeader ?? 6;
  const encoded: Uint8Array[] = [];
  extensions.forEach((ext, i) => {
    const next = i + 1 < extensions.length ? extensions[i + 1]!.type : finalNext;
    if (ext.type === 44) {
      const h = new Uint8Array(8);
      const view = new DataView(h.buffer);
      h[0] = next;
      view.setUint16(2, (ext.fragmentOffset ?? 0) | (ext.moreFragments ? 1 : 0));
      view.setUint32(4, ext.identification ?? 0);
      encoded.push(h);
      return;
    }
    const body = ext.body ?? new Uint8Array(0);
    if (ext.type === 51) {
      const h = padTo(concat(new Uint8Array(2), body), 4);
      h[0] = next;
      h[1] = h.length / 4 - 2;
      encoded.push(h);
      return;
    }
    const h = padTo(concat(new Uint8Array(2), body), 8);
    h[0] = next;
    h[1] = h.length / 8 - 1;
    encoded.push(h);
  });
  const payload = concat(...encoded, input.payload);
  const header = new Uint8Array(40);
  const view = new DataView(header.buffer);
  header[0] = 0x60;
  view.setUint16(4, input.payloadLength ?? payload.length);
  header[6] = extensions[0]?.type ?? finalNext;
  header[7] = input.hopLimit ?? 64;
  header.set(parseIpv6(input.src), 8);
  header.set(parseIpv6(input.dst), 24);
  return concat(header, payload);
}

export interface EthernetInput {
  etherType: number;
  payload: Uint8Array;
  /** VLAN tags outermost first: TPID (0x8100, 0x88a8, 0x9100) and VLAN id. */
  vlans?: { tpid?: number; id: number }[];
  /** Pad the frame to at least this many bytes, as Ethernet pads to 60 (without FCS). */
  minLength?: number;
  dstMac?: Uint8Array;
  srcMac?: Uint8Array;
}

export function buildEthernet(input: EthernetInput): Uint8Array {
  const macs = concat(input.dstMac ?? hex('020000000002'), input.srcMac ?? hex('020000000001'));
  const tags = (input.vlans ?? []).map((v) => new Uint8Array([(v.tpid ?? 0x8100) >> 8, (v.tpid ?? 0x8100) & 0xff, (v.id >> 8) & 0x0f, v.id & 0xff]));
  const frame = concat(macs, ...tags, new Uint8Array([input.etherType >> 8, input.etherType & 0xff]), input.payload);
  const min = input.minLength ?? 0;
  return frame.length >= min ? frame : concat(frame, new Uint8Array(min - frame.length));
}

/** LINKTYPE_LINUX_SLL (113): 16-byte cooked header. */
export function buildSll(protocol: number, payload: Uint8Array, packetType = 0): Uint8Array {
  const header = new Uint8Array(16);
  const view = new DataView(header.buffer);
  view.setUint16(0, packetType);
  view.setUint16(2, 1); // ARPHRD_ETHER
  view.setUint16(4, 6);
  header.set(hex('020000000001'), 6);
  view.setUint16(14, protocol);
  return concat(header, payload);
}

/** LINKTYPE_LINUX_SLL2 (276): 20-byte cooked header, protocol first. */
export function buildSll2(protocol: number, payload: Uint8Array, interfaceIndex = 1): Uint8Array {
  const header = new Uint8Array(20);
  const view = new DataView(header.buffer);
  view.setUint16(0, protocol);
  view.setUint32(4, interfaceIndex);
  view.setUint16(8, 1); // ARPHRD_ETHER
  header[10] = 0;
  header[11] = 6;
  header.set(hex('020000000001'), 12);
  return concat(header, payload);
}

/** LINKTYPE_NULL (0): the family in the capturing host's byte order. */
export function buildNull(family: number, payload: Uint8Array, littleEndian = true): Uint8Array {
  const header = new Uint8Array(4);
  new DataView(header.buffer).setUint32(0, family, littleEndian);
  return concat(header, payload);
}

/** LINKTYPE_LOOP (108): the family in network byte order. */
export function buildLoop(family: number, payload: Uint8Array): Uint8Array {
  return buildNull(family, payload, false);
}

export interface TcpPacketInput extends TcpHeaderInput {
  src?: string;
  dst?: string;
  /** 'ethernet' (default) or 'raw' (IP only, for LINKTYPE_RAW). */
  link?: 'ethernet' | 'raw';
}

/** A whole frame: Ethernet (or nothing) + IPv4 or IPv6 (by address form) + TCP with checksums. */
export function buildTcpPacket(input: TcpPacketInput): Uint8Array {
  const src = input.src ?? '10.0.0.1';
  const dst = input.dst ?? '10.0.0.2';
  const v6 = src.includes(':');
  const segment = withTcpChecksum(buildTcp(input), src, dst);
  const ip = v6 ? buildIpv6({ src, dst, payload: segment }) : buildIpv4({ src, dst, payload: segment });
  if (input.link === 'raw') return ip;
  return buildEthernet({ etherType: v6 ? 0x86dd : 0x0800, payload: ip, minLength: 60 });
}
