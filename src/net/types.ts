/** What the packet decoder hands to TCP reassembly (and to anyone else who wants packets). */

export interface TcpFlags {
  syn: boolean;
  ack: boolean;
  fin: boolean;
  rst: boolean;
  psh: boolean;
  urg: boolean;
}

/** A TCP segment decoded from one captured packet (or from a reassembled IP datagram). */
export interface TcpSegment {
  kind: 'tcp';
  ipVersion: 4 | 6;
  /** Printable addresses; IPv6 in RFC 5952 form. */
  src: string;
  dst: string;
  srcPort: number;
  dstPort: number;
  /** Unsigned 32-bit. */
  seq: number;
  ack: number;
  flags: TcpFlags;
  window: number;
  /** The captured payload: a view into the packet bytes, never a copy. */
  payload: Uint8Array;
  /** Payload bytes the IP header promised but the capture cut (snap length). */
  missing: number;
}

/** A well-formed packet that is not TCP (UDP, ARP, ICMP, a fragment held for reassembly...). */
export interface OtherPacket {
  kind: 'other';
  reason: string;
}

export interface UnsupportedLinkPacket {
  kind: 'unsupported-link';
  linkType: number;
}

/**
 * A packet that cannot be decoded down to TCP. `truncated` is true when the capture cut the
 * packet inside a header (its reason then starts with "truncated"); false when the bytes on the
 * wire themselves are inconsistent.
 */
export interface MalformedPacket {
  kind: 'malformed';
  reason: string;
  truncated: boolean;
}

export type DecodeResult = TcpSegment | OtherPacket | UnsupportedLinkPacket | MalformedPacket;
