/**
 * Link layers, identified by their pcap LINKTYPE (https://www.tcpdump.org/linktypes.html).
 * Each decoder finds where the network layer starts and which IP version it carries.
 */
import type { MalformedPacket, OtherPacket, UnsupportedLinkPacket } from './types.js';

export const LINKTYPE = {
  NULL: 0,
  ETHERNET: 1,
  /** DLT_RAW as most BSDs and Linux number it. */
  RAW_DLT12: 12,
  /** DLT_RAW on OpenBSD. */
  RAW_DLT14: 14,
  RAW: 101,
  LOOP: 108,
  LINUX_SLL: 113,
  IPV4: 228,
  IPV6: 229,
  LINUX_SLL2: 276,
} as const;

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_IPV6 = 0x86dd;

/** 802.1Q customer tag, 802.1ad service tag, and the pre-standard QinQ tag. */
const VLAN_TPIDS = new Set([0x8100, 0x88a8, 0x9100]);

const ETHERTYPE_NAMES: Record<number, string> = {
  0x0806: 'ARP',
  0x8035: 'RARP',
  0x8863: 'PPPoE discovery',
  0x8864: 'PPPoE session',
  0x8847: 'MPLS',
  0x888e: 'EAPOL',
  0x88cc: 'LLDP',
  0x88f7: 'PTP',
};

/** Where the IP header starts; `version` is 'auto' for raw links (read from the first nibble). */
export interface LinkNetwork {
  kind: 'network';
  version: 4 | 6 | 'auto';
  offset: number;
}

export type LinkResult = LinkNetwork | OtherPacket | UnsupportedLinkPacket | MalformedPacket;

/** `cut` says whether the capture may have cut the packet (snap length), for "truncated" vs "malformed". */
export function tooShort(what: string, cut: boolean): MalformedPacket {
  return cut
    ? { kind: 'malformed', reason: `truncated ${what}`, truncated: true }
    : { kind: 'malformed', reason: `packet too short for the ${what}`, truncated: false };
}

function readU16(data: Uint8Array, offset: number): number {
  return ((data[offset] ?? 0) << 8) | (data[offset + 1] ?? 0);
}

/**
 * Dispatches on the EtherType read at `typeOffset`, the link payload starting at
 * `payloadOffset`; VLAN tags of any depth are skipped (IEEE 802.1Q §9.6: each tag is the TPID
 * already read as the type, a 2-byte TCI, then the next EtherType).
 */
function fromEtherType(data: Uint8Array, typeOffset: number, payloadOffset: number, what: string, cut: boolean): LinkResult {
  if (data.length < Math.max(typeOffset + 2, payloadOffset)) return tooShort(`${what} header`, cut);
  let type = readU16(data, typeOffset);
  let offset = payloadOffset;
  while (VLAN_TPIDS.has(type)) {
    if (data.length < offset + 4) return tooShort('802.1Q VLAN tag', cut);
    type = readU16(data, offset + 2);
    offset += 4;
  }
  if (type === ETHERTYPE_IPV4) return { kind: 'network', version: 4, offset };
  if (type === ETHERTYPE_IPV6) return { kind: 'network', version: 6, offset };
  if (type < 0x0600) return { kind: 'other', reason: 'IEEE 802.3 length field (LLC frame)' };
  const name = ETHERTYPE_NAMES[type];
  const hex = `0x${type.toString(16).padStart(4, '0')}`;
  return { kind: 'other', reason: name === undefined ? `EtherType ${hex}` : `EtherType ${hex} (${name})` };
}

/** Address family values meaning IPv6 in DLT_NULL/LOOP headers: NetBSD/OpenBSD, FreeBSD, Darwin. */
const AF_INET6_VALUES = new Set([24, 28, 30]);

function fromFamily(family: number): LinkResult {
  if (family === 2) return { kind: 'network', version: 4, offset: 4 };
  if (AF_INET6_VALUES.has(family)) return { kind: 'network', version: 6, offset: 4 };
  return { kind: 'other', reason: `loopback address family ${family}` };
}

export function decodeLink(linkType: number, data: Uint8Array, cut: boolean): LinkResult {
  switch (linkType) {
    case LINKTYPE.ETHERNET:
      // Destination (6) + source (6) + EtherType.
      return fromEtherType(data, 12, 14, 'Ethernet', cut);
    case LINKTYPE.LINUX_SLL:
      // Packet type, ARPHRD type, address length (2 each), address (8), protocol (2).
      return fromEtherType(data, 14, 16, 'Linux cooked (SLL)', cut);
    case LINKTYPE.LINUX_SLL2:
      // Protocol (2) comes first, then reserved (2), ifindex (4), ARPHRD (2), packet type (1),
      // address length (1), address (8): 20 bytes in all.
      return fromEtherType(data, 0, 20, 'Linux cooked (SLL2)', cut);
    case LINKTYPE.NULL: {
      // The family is in the capturing host's byte order: a value above 16 bits was written
      // by a host of the other order.
      if (data.length < 4) return tooShort('loopback (NULL) header', cut);
      const view = new DataView(data.buffer, data.byteOffset, 4);
      const little = view.getUint32(0, true);
      return fromFamily(little > 0xffff ? view.getUint32(0, false) : little);
    }
    case LINKTYPE.LOOP: {
      if (data.length < 4) return tooShort('loopback (LOOP) header', cut);
      return fromFamily(new DataView(data.buffer, data.byteOffset, 4).getUint32(0, false));
    }
    case LINKTYPE.RAW:
    case LINKTYPE.RAW_DLT12:
    case LINKTYPE.RAW_DLT14:
      return { kind: 'network', version: 'auto', offset: 0 };
    case LINKTYPE.IPV4:
      return { kind: 'network', version: 4, offset: 0 };
    case LINKTYPE.IPV6:
      return { kind: 'network', version: 6, offset: 0 };
    default:
      return { kind: 'unsupported-link', linkType };
  }
}
