/**
 * Packet decoding from the link layer down to TCP: pure, no I/O. Every layer returns its
 * header fields and its payload as a view; a packet cut by the capture inside a header is
 * "truncated", one whose own lengths disagree is "malformed" (see types.ts).
 */
import { formatIpv4, formatIpv6 } from './address.js';
import { FragmentReassembler, type FragmentReassemblerOptions } from './fragments.js';
import { decodeLink, tooShort } from './link.js';
import { decodeTcp, type IpContext } from './tcp.js';
import type { DecodeResult, MalformedPacket, OtherPacket } from './types.js';

export type { DecodeResult, MalformedPacket, OtherPacket, TcpFlags, TcpSegment, UnsupportedLinkPacket } from './types.js';

const IP_PROTOCOL_NAMES: Record<number, string> = {
  1: 'ICMP',
  2: 'IGMP',
  4: 'IP-in-IP',
  17: 'UDP',
  41: 'IPv6-in-IP',
  47: 'GRE',
  50: 'ESP',
  58: 'ICMPv6',
  89: 'OSPF',
  103: 'PIM',
  112: 'VRRP',
  132: 'SCTP',
};

const PROTO_TCP = 6;

/** IPv4 addresses whose text is remembered (the cache starts over when full). */
const IPV4_NAME_CACHE = 4096;

/** IPv6 extension headers sized as (Hdr Ext Len + 1) * 8 octets (RFC 8200 §4.3, §4.4, §4.6; RFC 6275, 7401, 5533). */
const IPV6_GENERIC_EXTENSIONS = new Set([0, 43, 60, 135, 139, 140]);
const IPV6_FRAGMENT = 44;
const IPV6_AH = 51;
const IPV6_NO_NEXT = 59;

/** Bounds the extension-header walk: a real chain is a handful of headers. */
const MAX_IPV6_EXTENSIONS = 32;

export interface PacketDecoderOptions extends FragmentReassemblerOptions {
  /** Rebuild fragmented IP datagrams (default true); otherwise fragments are reported as 'other'. */
  reassembleFragments?: boolean;
}

function malformed(reason: string): MalformedPacket {
  return { kind: 'malformed', reason, truncated: false };
}

function protocolName(proto: number): string {
  const name = IP_PROTOCOL_NAMES[proto];
  return name === undefined ? `${proto}` : `${proto} (${name})`;
}

/**
 * Decodes packets; keeps state only for IP fragment reassembly, so use one decoder per capture.
 * `originalLength` is the packet's length on the wire (the pcap "orig_len"); when it exceeds
 * `data.length` the capture cut the packet. Without it, bytes the IP header promises but the
 * capture lacks are assumed cut by the capture too.
 */
export class PacketDecoder {
  private readonly fragments: FragmentReassembler | undefined;
  private readonly ipv4Names = new Map<number, string>();

  constructor(options: PacketDecoderOptions = {}) {
    this.fragments = options.reassembleFragments === false ? undefined : new FragmentReassembler(options);
  }

  decode(linkType: number, data: Uint8Array, originalLength?: number): DecodeResult {
    const cut = originalLength === undefined || originalLength > data.length;
    const link = decodeLink(linkType, data, cut);
    if (link.kind !== 'network') return link;
    const start = link.offset;
    const wire = originalLength === undefined ? undefined : Math.max(0, Math.max(originalLength, data.length) - start);
    let version = link.version;
    if (version === 'auto') {
      if (data.length <= start) return tooShort('IP header', cut);
      const nibble = data[start]! >> 4;
      if (nibble !== 4 && nibble !== 6) return malformed(`raw IP packet with version ${nibble}`);
      version = nibble;
    }
    return version === 4 ? this.decodeIpv4(data, start, wire, cut) : this.decodeIpv6(data.subarray(start), wire, cut);
  }

  /**
   * RFC 791 §3.1. Reads the header where it lies in the packet (`start`): nearly every packet
   * takes this path, and a view per layer cost more than the decoding.
   */
  private decodeIpv4(data: Uint8Array, start: number, wire: number | undefined, cut: boolean): DecodeResult {
    const available = data.length - start;
    if (available < 20) return tooShort('IPv4 header', cut);
    const b0 = data[start]!;
    const version = b0 >> 4;
    if (version !== 4) return malformed(`IPv4 header with version ${version}`);
    const headerLength = (b0 & 0x0f) * 4;
    if (headerLength < 20) return malformed(`IPv4 header length ${headerLength} is below 20`);
    if (available < headerLength) return tooShort('IPv4 options', cut);
    let totalLength = (data[start + 2]! << 8) | data[start + 3]!;
    if (totalLength === 0) {
      // Segmentation offload: Linux captures outgoing TSO segments before the NIC fills in the
      // length, so 0 means "the whole packet", as Wireshark treats it.
      totalLength = wire ?? available;
    }
    if (totalLength < headerLength) {
      return malformed(`IPv4 total length ${totalLength} is shorter than its ${headerLength}-byte header`);
    }
    if (wire !== undefined && totalLength > wire) {
      return malformed(`IPv4 total length ${totalLength} exceeds the ${wire} bytes on the wire`);
    }
    // Bytes past the total length are link padding (Ethernet pads frames to 60 bytes).
    const capturedEnd = Math.min(totalLength, available);
    const missing = totalLength - capturedEnd;
    const ip: IpContext = { ipVersion: 4, src: this.ipv4(data, start + 12), dst: this.ipv4(data, start + 16) };
    const proto = data[start + 9]!;
    const flagsAndOffset = (data[start + 6]! << 8) | data[start + 7]!;
    const moreFragments = (flagsAndOffset & 0x2000) !== 0;
    const fragmentOffset = (flagsAndOffset & 0x1fff) * 8;
    if (moreFragments || fragmentOffset !== 0) {
      if (this.fragments === undefined) return { kind: 'other', reason: 'IPv4 fragment' };
      if (missing > 0) return { kind: 'malformed', reason: 'truncated IPv4 fragment', truncated: true };
      const id = (data[start + 4]! << 8) | data[start + 5]!;
      const key = `4|${ip.src}|${ip.dst}|${id}|${proto}`;
      const whole = this.fragments.add(key, fragmentOffset, data.subarray(start + headerLength, start + capturedEnd), moreFragments);
      if (whole === undefined) return { kind: 'other', reason: 'IPv4 fragment (held for reassembly)' };
      return this.transport(ip, proto, whole, 0);
    }
    return this.transport(ip, proto, data, missing, start + headerLength, start + capturedEnd);
  }

  /**
   * The dotted quad at `at`, from a small cache: a capture holds few addresses, and building
   * two strings per packet showed in the profile.
   */
  private ipv4(data: Uint8Array, at: number): string {
    const key = ((data[at]! << 24) | (data[at + 1]! << 16) | (data[at + 2]! << 8) | data[at + 3]!) >>> 0;
    let text = this.ipv4Names.get(key);
    if (text === undefined) {
      if (this.ipv4Names.size >= IPV4_NAME_CACHE) this.ipv4Names.clear();
      text = formatIpv4(data, at);
      this.ipv4Names.set(key, text);
    }
    return text;
  }

  /** RFC 8200 §3 and §4. */
  private decodeIpv6(packet: Uint8Array, wire: number | undefined, cut: boolean): DecodeResult {
    if (packet.length < 40) return tooShort('IPv6 header', cut);
    const version = packet[0]! >> 4;
    if (version !== 6) return malformed(`IPv6 header with version ${version}`);
    let payloadLength = (packet[4]! << 8) | packet[5]!;
    if (payloadLength === 0) {
      // A jumbogram (RFC 2675) or an offloaded segment: the payload is the rest of the packet.
      payloadLength = (wire ?? packet.length) - 40;
    }
    if (wire !== undefined && 40 + payloadLength > wire) {
      return malformed(`IPv6 payload length ${payloadLength} exceeds the ${wire - 40} bytes on the wire`);
    }
    const capturedEnd = Math.min(40 + payloadLength, packet.length);
    let body = packet.subarray(40, capturedEnd);
    let missing = 40 + payloadLength - capturedEnd;
    const ip: IpContext = { ipVersion: 6, src: formatIpv6(packet, 8), dst: formatIpv6(packet, 24) };
    let next = packet[6]!;
    let offset = 0;
    for (let count = 0; ; count++) {
      if (count > MAX_IPV6_EXTENSIONS) return malformed('too many IPv6 extension headers');
      if (next === IPV6_NO_NEXT) return { kind: 'other', reason: 'IPv6 with no next header' };
      let length: number;
      if (IPV6_GENERIC_EXTENSIONS.has(next) || next === IPV6_AH) {
        if (body.length < offset + 2) return this.extensionShort(body.length + missing, offset + 2);
        // AH counts its length in 4-octet units minus 2 (RFC 4302 §2.2).
        length = next === IPV6_AH ? (body[offset + 1]! + 2) * 4 : (body[offset + 1]! + 1) * 8;
      } else if (next === IPV6_FRAGMENT) {
        length = 8;
      } else {
        break;
      }
      if (body.length < offset + length) return this.extensionShort(body.length + missing, offset + length);
      if (next !== IPV6_FRAGMENT) {
        next = body[offset]!;
        offset += length;
        continue;
      }
      // Fragment header (RFC 8200 §4.5): next header, reserved, offset (13 bits) + M flag, id.
      const nextInFragment = body[offset]!;
      const offsetAndFlags = (body[offset + 2]! << 8) | body[offset + 3]!;
      const fragmentOffset = offsetAndFlags & 0xfff8;
      const more = (offsetAndFlags & 1) !== 0;
      offset += 8;
      next = nextInFragment;
      // An atomic fragment (offset 0, M = 0) is a whole datagram (RFC 6946).
      if (fragmentOffset === 0 && !more) continue;
      if (this.fragments === undefined) return { kind: 'other', reason: 'IPv6 fragment' };
      if (missing > 0) return { kind: 'malformed', reason: 'truncated IPv6 fragment', truncated: true };
      const id = new DataView(body.buffer, body.byteOffset + offset - 4, 4).getUint32(0);
      const key = `6|${ip.src}|${ip.dst}|${id}`;
      const whole = this.fragments.add(key, fragmentOffset, body.subarray(offset), more);
      if (whole === undefined) return { kind: 'other', reason: 'IPv6 fragment (held for reassembly)' };
      body = whole;
      missing = 0;
      offset = 0;
    }
    return this.transport(ip, next, body.subarray(offset), missing);
  }

  private extensionShort(declared: number, needed: number): MalformedPacket {
    return needed > declared
      ? malformed('IPv6 extension header runs past the payload length')
      : { kind: 'malformed', reason: 'truncated IPv6 extension header', truncated: true };
  }

  /** The IP payload is bytes[start, end), `missing` more cut by the capture. */
  private transport(ip: IpContext, proto: number, bytes: Uint8Array, missing: number, start = 0, end = bytes.length): DecodeResult {
    if (proto !== PROTO_TCP) {
      const other: OtherPacket = { kind: 'other', reason: `IPv${ip.ipVersion} protocol ${protocolName(proto)}` };
      return other;
    }
    return decodeTcp(ip, bytes, missing, start, end);
  }
}

/**
 * Stateless decoding of one packet: fragments are reported as `{ kind: 'other' }` since
 * rebuilding them needs the packets around them (use a `PacketDecoder` for that).
 */
const statelessDecoder = new PacketDecoder({ reassembleFragments: false });

export function decodePacket(linkType: number, data: Uint8Array, originalLength?: number): DecodeResult {
  return statelessDecoder.decode(linkType, data, originalLength);
}
