import { ByteQueue } from './byte-queue.js';
import { readInBatches, type ChunkSource } from './chunk-source.js';
import { SnapCutReporter } from './snap-notices.js';
import type { CaptureInfo, CaptureItem, CaptureNotice } from './types.js';

// Block types, draft-ietf-opsawg-pcapng §4 and §10.1.
const SECTION_HEADER = 0x0a0d0d0a;
const INTERFACE_DESCRIPTION = 0x00000001;
const OBSOLETE_PACKET = 0x00000002;
const SIMPLE_PACKET = 0x00000003;
const ENHANCED_PACKET = 0x00000006;
const DECRYPTION_SECRETS = 0x0000000a;
/** Blocks that carry nothing a packet reader needs, skipped without a notice. */
const KNOWN_SKIPPED = new Set([
  0x00000004, // Name Resolution Block, §4.5
  0x00000005, // Interface Statistics Block, §4.6
  0x00000009, // systemd Journal Export Block
  0x00000bad, // Custom Block that may be copied, §4.8
  0x40000bad, // Custom Block that must not be copied, §4.8
]);

// Interface Description Block options, §4.2.
const IF_TSRESOL = 9;
const IF_TSOFFSET = 14;

/**
 * Blocks that are parsed are buffered whole; a claimed length above this is taken for
 * corruption rather than allocated. Other blocks are skipped as they stream past, whatever
 * their length.
 */
const MAX_PARSED_BLOCK = 16 * 1024 * 1024;

interface Interface {
  linkType: number;
  /** 0 means no limit, §4.2. */
  snapLength: number;
  /** Timestamp units per second, from if_tsresol (default 10^6). */
  unitsPerSecond: bigint;
  /** Seconds added to every timestamp, from if_tsoffset. */
  offsetSeconds: number;
}

export interface PcapngOptions {
  name: string;
  gzip: boolean;
  byteOrder: 'LE' | 'BE';
}

/**
 * A streaming pcapng reader: a small state machine over a queue of chunks. Every state first
 * checks it has the bytes it needs and otherwise waits for the next chunk. Packet-bearing
 * blocks are buffered whole (they are small); every other block is dropped as it arrives.
 */
export function openPcapng(
  input: ChunkSource,
  options: PcapngOptions,
): { info: CaptureInfo; batches: AsyncGenerator<CaptureItem[]> } {
  const info: CaptureInfo = { format: 'pcapng', gzip: options.gzip, byteOrder: options.byteOrder };
  return { info, batches: readBlocks(input, options.name) };
}

/** Yields the items of each chunk read as one batch: a yield per packet cost more than parsing it. */
async function* readBlocks(input: ChunkSource, name: string): AsyncGenerator<CaptureItem[]> {
  const queue = new ByteQueue();
  const snapCut = new SnapCutReporter();
  const unknownReported = new Set<number>();
  let littleEndian = true;
  let interfaces: Interface[] = [];
  /** The section's major version is not 1: its blocks are skipped until the next section, §4.1. */
  let skippingSection = false;
  let count = 0;
  /** Timestamp of the last packet that had one, for Simple Packet Blocks, which have none. */
  let lastTs = 0;
  /** Offset in the (decompressed) input of the front of the queue, for messages. */
  let offset = 0;
  /** Bytes of a skipped block still to drop, then its trailing length to check. */
  let skipRemaining = 0;
  let skippedBlockLength: number | undefined;

  const u32 = (buf: Buffer, at: number): number => (littleEndian ? buf.readUInt32LE(at) : buf.readUInt32BE(at));
  const u16 = (buf: Buffer, at: number): number => (littleEndian ? buf.readUInt16LE(at) : buf.readUInt16BE(at));
  const consume = (n: number): Buffer => {
    offset += Math.min(n, queue.length);
    return queue.take(n);
  };
  const notice = (code: string, message: string, packet?: number): CaptureNotice =>
    packet === undefined
      ? { kind: 'notice', code, message: `${name}: ${message}` }
      : { kind: 'notice', code, message: `${name}: ${message}`, packet };

  /** Handles whatever whole blocks the queue holds. Returns false when reading must stop. */
  function* step(): Generator<CaptureItem, boolean> {
    for (;;) {
      if (skipRemaining > 0) {
        const n = Math.min(skipRemaining, queue.length);
        offset += n;
        queue.skip(n);
        skipRemaining -= n;
        if (skipRemaining > 0) return true;
      }
      if (skippedBlockLength !== undefined) {
        if (queue.length < 4) return true;
        const trailing = u32(consume(4), 0);
        if (trailing !== skippedBlockLength) {
          yield notice(
            'bad-block-length',
            `a block's trailing length ${trailing} differs from its leading length ${skippedBlockLength} ` +
              `(ending at offset ${offset}); the file is corrupt from there on`,
          );
          return false;
        }
        skippedBlockLength = undefined;
      }

      if (queue.length < 8) return true;
      const type = u32(queue.peek(0, 4), 0);
      if (type === SECTION_HEADER) {
        // The section's own byte-order magic says how to read its length, §4.1.
        if (queue.length < 12) return true;
        const bom = queue.peek(8, 4).readUInt32BE(0);
        if (bom !== 0x1a2b3c4d && bom !== 0x4d3c2b1a) {
          yield notice('bad-byte-order-magic', `the section header at offset ${offset} has no valid byte-order magic`);
          return false;
        }
        littleEndian = bom === 0x4d3c2b1a;
      }
      const length = u32(queue.peek(4, 4), 0);
      // §3.1: a block is at least type, length and trailing length, padded to 32 bits.
      if (length < 12 || length % 4 !== 0) {
        yield notice(
          'bad-block-length',
          `the block at offset ${offset} has an impossible length ${length}; the file is corrupt from there on`,
        );
        return false;
      }
      const parsed =
        type === SECTION_HEADER ||
        (!skippingSection &&
          (type === INTERFACE_DESCRIPTION ||
            type === ENHANCED_PACKET ||
            type === SIMPLE_PACKET ||
            type === OBSOLETE_PACKET ||
            type === DECRYPTION_SECRETS));
      if (!parsed) {
        if (!skippingSection && !KNOWN_SKIPPED.has(type) && !unknownReported.has(type)) {
          unknownReported.add(type);
          yield notice(
            'unknown-block',
            `skipped a block of unknown type 0x${type.toString(16).padStart(8, '0')} at offset ${offset} ` +
              '(later blocks of this type are skipped silently)',
          );
        }
        consume(8);
        skipRemaining = length - 12;
        skippedBlockLength = length;
        continue;
      }
      if (length > MAX_PARSED_BLOCK) {
        yield notice(
          'block-too-large',
          `the block at offset ${offset} claims ${length} bytes; the file is corrupt from there on`,
        );
        return false;
      }
      if (queue.length < length) return true;
      const blockOffset = offset;
      const block = consume(length);
      if (u32(block, length - 4) !== length) {
        yield notice(
          'bad-block-length',
          `the block at offset ${blockOffset} has trailing length ${u32(block, length - 4)}, ` +
            `leading length ${length}; the file is corrupt from there on`,
        );
        return false;
      }
      const proceed = yield* handleBlock(type, block, blockOffset);
      if (!proceed) return false;
    }
  }

  function* handleBlock(type: number, block: Buffer, blockOffset: number): Generator<CaptureItem, boolean> {
    const bodyEnd = block.length - 4;
    switch (type) {
      case SECTION_HEADER: {
        interfaces = [];
        if (bodyEnd < 24) {
          // Damage, but the block's lengths agree, so the next block can be found: the blocks of
          // this section (which describes nothing) are skipped up to the next section header.
          skippingSection = true;
          yield notice(
            'malformed-section',
            `the section header at offset ${blockOffset} is too short (${block.length} bytes, at least 28 needed); ` +
              'its blocks are skipped up to the next section header',
          );
          return true;
        }
        const major = u16(block, 12);
        skippingSection = major !== 1;
        if (skippingSection) {
          yield notice(
            'unsupported-version',
            `the section at offset ${blockOffset} has version ${major}.${u16(block, 14)}; its blocks are skipped`,
          );
        }
        return true;
      }
      case INTERFACE_DESCRIPTION: {
        if (bodyEnd < 16) {
          yield notice('malformed-block', `the interface description at offset ${blockOffset} is too short`);
          return true;
        }
        interfaces.push(describeInterface(block, 16, bodyEnd));
        return true;
      }
      case ENHANCED_PACKET:
      case OBSOLETE_PACKET: {
        const no = ++count;
        // §4.3 (and the obsolete Packet Block, whose interface id is 16 bits then a drop count).
        if (bodyEnd < 28) {
          yield notice('malformed-block', `packet ${no}: its block at offset ${blockOffset} is too short`, no);
          return true;
        }
        const interfaceId = type === ENHANCED_PACKET ? u32(block, 8) : u16(block, 8);
        const captured = u32(block, 20);
        const original = u32(block, 24);
        if (28 + captured > bodyEnd) {
          yield notice(
            'malformed-block',
            `packet ${no}: captured length ${captured} does not fit its block at offset ${blockOffset}`,
            no,
          );
          return true;
        }
        yield* packet(no, interfaceId, u32(block, 12), u32(block, 16), view(block, 28, captured), original);
        return true;
      }
      case DECRYPTION_SECRETS: {
        // §4.7: Secrets Type, Secrets Length, the secrets (padded to 32 bits), options.
        if (bodyEnd < 16 || 16 + u32(block, 12) > bodyEnd) {
          yield notice('malformed-block', `the Decryption Secrets Block at offset ${blockOffset} is cut short; skipped`);
          return true;
        }
        yield { kind: 'secrets', secretsType: u32(block, 8), data: view(block, 16, u32(block, 12)) };
        return true;
      }
      case SIMPLE_PACKET: {
        const no = ++count;
        if (bodyEnd < 12) {
          yield notice('malformed-block', `packet ${no}: its block at offset ${blockOffset} is too short`, no);
          return true;
        }
        // §4.4: no captured length; it is the original length cut to the snap length of
        // interface 0, and the data field holds it padded to 32 bits.
        const original = u32(block, 8);
        const snap = interfaces[0]?.snapLength ?? 0;
        let captured = Math.min(original, bodyEnd - 12);
        if (snap > 0) captured = Math.min(captured, snap);
        yield* packet(no, 0, undefined, undefined, view(block, 12, captured), original);
        return true;
      }
    }
    return true;
  }

  function* packet(
    no: number,
    interfaceId: number,
    tsHigh: number | undefined,
    tsLow: number | undefined,
    data: Uint8Array,
    originalLength: number,
  ): Generator<CaptureItem> {
    const iface = interfaces[interfaceId];
    if (iface === undefined) {
      yield notice(
        'unknown-interface',
        `packet ${no} names interface ${interfaceId}, but its section describes ${interfaces.length}; skipped`,
        no,
      );
      return;
    }
    // A Simple Packet Block has no timestamp (§4.4): it gets the previous packet's, so that
    // relative times stay monotonic instead of jumping back to 1970.
    if (tsHigh !== undefined && tsLow !== undefined) lastTs = timestamp(iface, tsHigh, tsLow);
    yield {
      kind: 'packet',
      no,
      ts: lastTs,
      linkType: iface.linkType,
      data,
      originalLength,
      interfaceId,
    };
    const cut = snapCut.check(no, data.length, originalLength);
    if (cut !== undefined) yield cut;
  }

  function describeInterface(block: Buffer, start: number, end: number): Interface {
    const iface: Interface = {
      linkType: u16(block, 8),
      snapLength: u32(block, 12),
      unitsPerSecond: 1_000_000n,
      offsetSeconds: 0,
    };
    // §3.5: options are code, length, value padded to 32 bits, ended by opt_endofopt (0).
    let at = start;
    while (at + 4 <= end) {
      const code = u16(block, at);
      const length = u16(block, at + 2);
      const value = at + 4;
      if (code === 0 || value + length > end) break;
      if (code === IF_TSRESOL && length >= 1) {
        const resol = block[value]!;
        // High bit set: a negative power of 2; otherwise a negative power of 10 (§4.2).
        const exponent = BigInt(resol & 0x7f);
        iface.unitsPerSecond = resol & 0x80 ? 2n ** exponent : 10n ** exponent;
      } else if (code === IF_TSOFFSET && length >= 8) {
        const high = littleEndian ? block.readInt32LE(value + 4) : block.readInt32BE(value);
        const low = littleEndian ? block.readUInt32LE(value) : block.readUInt32BE(value + 4);
        iface.offsetSeconds = high * 2 ** 32 + low;
      }
      at = value + length + ((4 - (length % 4)) % 4);
    }
    return iface;
  }

  try {
    const ended = yield* readInBatches(input, name, () => count, (chunk, batch) => {
      if (chunk !== null) queue.push(chunk);
      const steps = step();
      let next = steps.next();
      for (; next.done !== true; next = steps.next()) batch.push(next.value);
      return next.value;
    });
    if (ended && (queue.length > 0 || skipRemaining > 0 || skippedBlockLength !== undefined)) {
      yield [notice('truncated', `the file ends inside a block at offset ${offset}, after packet ${count}`)];
    }
  } finally {
    await input.close();
  }
}

/** Packet bytes as a plain Uint8Array view, as the pcap reader hands them out. */
function view(block: Buffer, at: number, length: number): Uint8Array {
  return new Uint8Array(block.buffer, block.byteOffset + at, length);
}

/** Seconds since the epoch; BigInt keeps 64-bit nanosecond counts exact until the division. */
function timestamp(iface: Interface, high: number, low: number): number {
  const units = (BigInt(high) << 32n) | BigInt(low);
  const whole = units / iface.unitsPerSecond;
  const fraction = units % iface.unitsPerSecond;
  return Number(whole) + Number(fraction) / Number(iface.unitsPerSecond) + iface.offsetSeconds;
}
