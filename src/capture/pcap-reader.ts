import { parse, type PcapGlobalHeader, type PcapPacket } from 'pcap-parser';
import { ByteQueue } from './byte-queue.js';
import { readFailureNotice, type ChunkSource } from './chunk-source.js';
import { SnapCutReporter } from './snap-notices.js';
import { CaptureFormatError, type CaptureInfo, type CaptureItem } from './types.js';

const FILE_HEADER_LENGTH = 24;
const RECORD_HEADER_LENGTH = 16;
/** Largest record accepted whatever the snap length says (libpcap's usual maximum). */
const DEFAULT_MAX_RECORD = 256 * 1024;
/** Largest record accepted even when the header announces a bigger snap length. */
const HARD_MAX_RECORD = 64 * 1024 * 1024;

/**
 * Stands in for the readable stream pcap-parser expects: the reader below decides what to
 * feed and when, and pcap-parser handles each feed synchronously, so its events arrive
 * before `feed` returns.
 */
class ParserFeed {
  private onData: ((chunk: Buffer) => void) | undefined;

  on(event: 'data', listener: (chunk: Buffer) => void): this;
  on(event: 'error', listener: (err: Error) => void): this;
  on(event: 'end', listener: () => void): this;
  on(event: 'data' | 'error' | 'end', listener: ((chunk: Buffer) => void) | ((err: Error) => void)): this {
    // Only 'data' matters: errors and the end are the reader's business, not pcap-parser's.
    if (event === 'data') this.onData = listener as (chunk: Buffer) => void;
    return this;
  }
  pause(): void {}
  resume(): void {}
  feed(chunk: Buffer): void {
    this.onData?.(chunk);
  }
}

export interface PcapOptions {
  name: string;
  gzip: boolean;
  byteOrder: 'LE' | 'BE';
  nanosecond: boolean;
}

/**
 * Classic pcap through pcap-parser. The file header is read here (it has already been
 * sniffed); the returned generator then frames records itself and hands pcap-parser only
 * whole records. That keeps pcap-parser's buffer empty between feeds (its `updateBuffer`
 * copies everything it holds on every chunk, which for a big record arriving in small chunks
 * would be quadratic), lets an absurd record length be refused before anything is buffered,
 * and tells a truncated tail apart from a clean end.
 */
export async function openPcap(
  input: ChunkSource,
  options: PcapOptions,
): Promise<{ info: CaptureInfo; items: AsyncGenerator<CaptureItem> }> {
  const { name, byteOrder, nanosecond } = options;
  const queue = new ByteQueue();
  // The sniffer has checked that the file header is all there; take it with what came along.
  await input.peekAtLeast(FILE_HEADER_LENGTH);
  queue.push((await input.read()) ?? Buffer.alloc(0));
  const fileHeader = Buffer.from(queue.take(FILE_HEADER_LENGTH));
  if (nanosecond) {
    // pcap-parser knows only the microsecond magic; same layout, so show it that one and
    // read its "microseconds" field as nanoseconds.
    fileHeader.writeUInt32BE(byteOrder === 'BE' ? 0xa1b2c3d4 : 0xd4c3b2a1, 0);
  }

  const feed = new ParserFeed();
  const parser = parse(feed);
  let globalHeader: PcapGlobalHeader | undefined;
  let parserError: Error | undefined;
  const parsed: PcapPacket[] = [];
  parser.on('globalHeader', (header) => (globalHeader = header));
  parser.on('packet', (packet) => parsed.push(packet));
  parser.on('error', (err) => (parserError ??= err));
  feed.feed(fileHeader);
  if (globalHeader === undefined) {
    await input.close();
    throw new CaptureFormatError(`${name}: unusable pcap file header: ${parserError?.message ?? 'not accepted'}`);
  }

  const snapLength = globalHeader.snapshotLength;
  // draft-ietf-opsawg-pcap §4: the link type is the low 16 bits; the high bits carry FCS info.
  const linkType = globalHeader.linkLayerType & 0xffff;
  const maxRecord = snapLength > DEFAULT_MAX_RECORD ? Math.min(snapLength, HARD_MAX_RECORD) : DEFAULT_MAX_RECORD;
  const info: CaptureInfo = {
    format: nanosecond ? 'pcap-ns' : 'pcap',
    gzip: options.gzip,
    byteOrder,
    snapLength,
    linkType,
  };
  const divisor = nanosecond ? 1e9 : 1e6;

  async function* items(): AsyncGenerator<CaptureItem> {
    let count = 0;
    const snapCut = new SnapCutReporter();
    /** Bytes at the front of the queue that form whole records, not yet fed. */
    let ready = 0;
    /** Length (header + data) of the record starting at `ready`, once its header is in. */
    let next: number | undefined;
    /** Captured length claimed by a record too large to be believed. */
    let absurd: number | undefined;

    function* drain(): Generator<CaptureItem> {
      if (ready > 0) {
        feed.feed(queue.take(ready));
        ready = 0;
      }
      for (const { header, data } of parsed.splice(0)) {
        const no = ++count;
        yield {
          kind: 'packet',
          no,
          ts: header.timestampSeconds + header.timestampMicroseconds / divisor,
          linkType,
          data,
          originalLength: header.originalLength,
          interfaceId: 0,
        };
        const cut = snapCut.check(no, data.length, header.originalLength);
        if (cut !== undefined) yield cut;
      }
    }

    /** Moves `ready` past every whole record in the queue; stops at an absurd length. */
    function frame(): void {
      for (;;) {
        if (next === undefined) {
          if (queue.length - ready < RECORD_HEADER_LENGTH) return;
          const header = queue.peek(ready, RECORD_HEADER_LENGTH);
          const captured = byteOrder === 'LE' ? header.readUInt32LE(8) : header.readUInt32BE(8);
          if (captured > maxRecord) {
            absurd = captured;
            return;
          }
          next = RECORD_HEADER_LENGTH + captured;
        }
        if (queue.length - ready < next) return;
        ready += next;
        next = undefined;
      }
    }

    try {
      for (;;) {
        frame();
        yield* drain();
        if (absurd !== undefined) {
          yield {
            kind: 'notice',
            code: 'record-too-large',
            message:
              `${name}: packet record ${count + 1} claims ${absurd} captured bytes ` +
              `(snap length ${snapLength}); the file is corrupt from there on`,
            packet: count + 1,
          };
          return;
        }
        let chunk: Buffer | null;
        try {
          chunk = await input.read();
        } catch (err) {
          yield readFailureNotice(err, name, count);
          return;
        }
        if (chunk === null) break;
        queue.push(chunk);
      }
      if (queue.length > 0) {
        const expected = next === undefined ? `a ${RECORD_HEADER_LENGTH}-byte record header` : `${next} bytes`;
        yield {
          kind: 'notice',
          code: 'truncated',
          message: `${name}: the file ends inside packet record ${count + 1} (${queue.length} bytes of ${expected})`,
          packet: count + 1,
        };
      }
    } finally {
      await input.close();
    }
  }

  return { info, items: items() };
}
