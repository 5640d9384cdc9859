/**
 * Writes classic pcap (draft-ietf-opsawg-pcap): the file header once, then one record per
 * packet. Little-endian by default, as libpcap writes on the machines this runs on.
 */
export interface PcapWriterOptions {
  /** LINKTYPE_* of every packet in the file (1 = Ethernet, 101 = raw IP). */
  linkType: number;
  /** Longest packet kept; longer ones are cut and keep their original length. Default 262144. */
  snapLength?: number;
  /** Nanosecond timestamps (magic a1b23c4d) instead of microseconds. */
  nanosecond?: boolean;
  byteOrder?: 'LE' | 'BE';
}

export interface PcapRecord {
  /**
   * Seconds since the epoch, fractional; or whole seconds plus a fraction in the file's unit
   * (microseconds, or nanoseconds when `nanosecond` is set) when a double is not precise enough.
   */
  ts: number | { seconds: number; fraction: number };
  data: Uint8Array;
  /** Length on the wire, when the data is already a cut copy. Defaults to data.length. */
  originalLength?: number;
}

export const DEFAULT_SNAP_LENGTH = 262_144;

export function writePcapHeader(options: PcapWriterOptions): Buffer {
  const header = Buffer.alloc(24);
  const le = (options.byteOrder ?? 'LE') === 'LE';
  const u32 = (value: number, at: number): void => {
    if (le) header.writeUInt32LE(value, at);
    else header.writeUInt32BE(value, at);
  };
  const u16 = (value: number, at: number): void => {
    if (le) header.writeUInt16LE(value, at);
    else header.writeUInt16BE(value, at);
  };
  u32(options.nanosecond === true ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(2, 4);
  u16(4, 6);
  // Bytes 8..15: the obsolete time zone and accuracy fields, always 0.
  u32(options.snapLength ?? DEFAULT_SNAP_LENGTH, 16);
  u32(options.linkType, 20);
  return header;
}

export function writePcapRecord(record: PcapRecord, options: PcapWriterOptions): Buffer {
  const unitsPerSecond = options.nanosecond === true ? 1e9 : 1e6;
  let seconds: number;
  let fraction: number;
  if (typeof record.ts === 'number') {
    seconds = Math.floor(record.ts);
    fraction = Math.round((record.ts - seconds) * unitsPerSecond);
    // Rounding can reach a whole second (x.9999996 s at microsecond resolution).
    if (fraction >= unitsPerSecond) {
      seconds += 1;
      fraction -= unitsPerSecond;
    }
  } else {
    ({ seconds, fraction } = record.ts);
  }
  const snap = options.snapLength ?? DEFAULT_SNAP_LENGTH;
  const captured = Math.min(record.data.length, snap);
  const out = Buffer.alloc(16 + captured);
  const le = (options.byteOrder ?? 'LE') === 'LE';
  const u32 = (value: number, at: number): void => {
    if (le) out.writeUInt32LE(value, at);
    else out.writeUInt32BE(value, at);
  };
  u32(seconds, 0);
  u32(fraction, 4);
  u32(captured, 8);
  u32(Math.max(record.originalLength ?? record.data.length, record.data.length), 12);
  out.set(record.data.subarray(0, captured), 16);
  return out;
}
