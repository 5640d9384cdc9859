export interface CapturePacket {
  /** 1-based number of the packet in the file, counting every block that holds a packet. */
  no: number;
  /** Seconds since the epoch, fractional. */
  ts: number;
  /** LINKTYPE_* value of the interface the packet was captured on. */
  linkType: number;
  /** The captured bytes. */
  data: Uint8Array;
  /** Length on the wire; larger than data.length when the snap length cut the packet. */
  originalLength: number;
  /** Interface within the current pcapng section; always 0 for classic pcap. */
  interfaceId: number;
}

/**
 * Something about the file worth telling the user that does not stop the packets before it
 * from being delivered (a truncated tail, a skipped block, a packet cut by the snap length).
 */
export interface CaptureNotice {
  kind: 'notice';
  /** Stable identifier, e.g. 'truncated', 'bad-block-length', 'unknown-block'. */
  code: string;
  message: string;
  /** Number of the packet the notice concerns, when it concerns one. */
  packet?: number;
}

/**
 * Secrets the capture carries to decrypt its traffic: a pcapng Decryption Secrets Block
 * (draft-ietf-opsawg-pcapng §4.7), as `editcap --inject-secrets` writes it.
 */
export interface CaptureSecrets {
  kind: 'secrets';
  /** Secrets Type: 0x544c534b ("TLSK") is a TLS key log (the SSLKEYLOGFILE format). */
  secretsType: number;
  data: Uint8Array;
}

/** Secrets Type of a TLS key log in a Decryption Secrets Block. */
export const SECRETS_TLS_KEY_LOG = 0x544c534b;

export type CaptureItem = ({ kind: 'packet' } & CapturePacket) | CaptureNotice | CaptureSecrets;

/**
 * Notices that say the file is damaged there. The reader stops after them, except after
 * `malformed-section`, where it skips to the next section header. Everything before the damage
 * has been delivered; the CLI reports these on stderr with its own exit code.
 */
export const DAMAGE_NOTICES: ReadonlySet<string> = new Set([
  'truncated',
  'truncated-gzip',
  'gzip-error',
  'record-too-large',
  'block-too-large',
  'bad-block-length',
  'bad-byte-order-magic',
  'malformed-section',
]);

export interface CaptureInfo {
  format: 'pcap' | 'pcap-ns' | 'pcapng';
  /** The bytes were gzip-compressed and are read through gunzip. */
  gzip: boolean;
  /** Byte order of the file (of its first section, for pcapng). */
  byteOrder: 'LE' | 'BE';
  /** From the pcap global header; pcapng keeps it per interface, so it is absent there. */
  snapLength?: number;
  /** From the pcap global header; absent for pcapng, where each interface has its own. */
  linkType?: number;
}

/** The input cannot be read as a capture at all. The message is one line, fit for a user. */
export class CaptureFormatError extends Error {
  override name = 'CaptureFormatError';
}
