import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import { Readable, pipeline } from 'node:stream';
import { loadZlib } from '../lazy.js';
import { ChunkSource } from './chunk-source.js';
import { openPcap } from './pcap-reader.js';
import { openPcapng } from './pcapng-reader.js';
import { SNIFF_LENGTH, sniffFormat } from './sniff.js';
import { CaptureFormatError, type CaptureInfo, type CaptureItem } from './types.js';

export interface OpenCaptureOptions {
  /** How the input is named in messages when it is a stream (the CLI passes '<stdin>'). */
  name?: string;
}

export interface OpenedCapture {
  info: CaptureInfo;
  /**
   * Packets and notices in file order, produced as the bytes arrive. Pull it to the end or
   * break out of the loop: either releases the input. Bad data ends it with a notice; only an
   * unreadable input makes it throw, and then a CaptureFormatError.
   */
  items: AsyncIterable<CaptureItem>;
  /**
   * The same items grouped as they were read, one array per chunk of input: what a hot loop
   * iterates, since each step of an async iterator costs more than decoding a packet. Use
   * either `items` or `batches`, not both: they share one reader.
   */
  batches: AsyncIterable<CaptureItem[]>;
}

/**
 * Opens a capture file (a path) or stream (e.g. process.stdin) and works out its format from
 * the first bytes: classic pcap (either byte order, microsecond or nanosecond), pcapng, or
 * either of them gzip-compressed. Throws CaptureFormatError when the input is not usable.
 */
export async function openCapture(
  source: string | NodeJS.ReadableStream,
  options: OpenCaptureOptions = {},
): Promise<OpenedCapture> {
  const name = typeof source === 'string' ? source : (options.name ?? '<stream>');
  let input = typeof source === 'string' ? await openFile(source) : new ChunkSource(source);
  try {
    let head = await readHead(input, name, 'cannot read');
    let sniffed = sniffFormat(head, name);
    const gzip = sniffed.format === 'gzip';
    if (sniffed.format === 'gzip') {
      input = gunzip(input);
      head = await readHead(input, name, 'the gzip data is unusable');
      if (head.length === 0) throw new CaptureFormatError(`${name}: the gzip data decompresses to nothing`);
      sniffed = sniffFormat(head, `${name} (decompressed)`);
      if (sniffed.format === 'gzip') throw new CaptureFormatError(`${name}: gzip inside gzip is not supported`);
    }
    const opened =
      sniffed.format === 'pcap'
        ? await openPcap(input, { name, gzip, byteOrder: sniffed.byteOrder, nanosecond: sniffed.nanosecond })
        : openPcapng(input, { name, gzip, byteOrder: sniffed.byteOrder });
    return { info: opened.info, batches: opened.batches, items: flatten(opened.batches) };
  } catch (err) {
    await input.close();
    throw err;
  }
}

async function* flatten(batches: AsyncIterable<CaptureItem[]>): AsyncGenerator<CaptureItem> {
  for await (const batch of batches) yield* batch;
}

/** Bytes read from a file at a time (a ReadStream's default is 64 KiB). */
export const FILE_CHUNK = 256 * 1024;

async function openFile(path: string): Promise<ChunkSource> {
  let regular: boolean;
  try {
    // (Synchronous, as the reads are: node:fs/promises alone costs every run ~5 ms to load.)
    const stats = statSync(path);
    if (stats.isDirectory()) throw new CaptureFormatError(`${path}: is a directory, not a capture file`);
    regular = stats.isFile();
  } catch (err) {
    if (err instanceof CaptureFormatError) throw err;
    throw new CaptureFormatError(`${path}: cannot open: ${describeSystemError(err)}`);
  }
  if (!regular) {
    // A FIFO or a device (`wsdump <(tcpdump -w - …)`) may block: read it without blocking.
    const stream = createReadStream(path, { highWaterMark: FILE_CHUNK });
    return new ChunkSource(stream, () => stream.destroy());
  }
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    throw new CaptureFormatError(`${path}: cannot open: ${describeSystemError(err)}`);
  }
  const file = new FileChunks(fd);
  return new ChunkSource(file, () => file.close());
}

/**
 * A regular file read synchronously, one chunk per step: a read from the page cache takes tens
 * of microseconds, while a trip through the thread pool (what a ReadStream makes per chunk)
 * left the main thread idle for 5-10% of a run on a busy machine. A failed read rejects the
 * step, as a stream's error would.
 */
class FileChunks implements AsyncIterable<Buffer> {
  private closed = false;

  constructor(private readonly fd: number) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<Buffer> {
    try {
      while (!this.closed) {
        const chunk = Buffer.allocUnsafeSlow(FILE_CHUNK);
        const n = readSync(this.fd, chunk, 0, FILE_CHUNK, null);
        if (n === 0) return;
        yield n === FILE_CHUNK ? chunk : chunk.subarray(0, n);
      }
    } finally {
      this.close();
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

async function readHead(input: ChunkSource, name: string, what: string): Promise<Buffer> {
  try {
    return await input.peekAtLeast(SNIFF_LENGTH);
  } catch (err) {
    throw new CaptureFormatError(`${name}: ${what}: ${describeSystemError(err)}`);
  }
}

/** Decompresses the rest of `input`; Wireshark ships its sample captures as .pcap.gz. */
function gunzip(input: ChunkSource): ChunkSource {
  const inflater = loadZlib().createGunzip();
  // pipeline carries backpressure from the inflater back to the file, and a read error of
  // the file into the inflater, where the reader sees it.
  pipeline(Readable.from(input.chunks(), { objectMode: false }), inflater, () => {});
  return new ChunkSource(inflater, () => {
    inflater.destroy();
    void input.close();
  });
}

function describeSystemError(err: unknown): string {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'is a directory';
  return err instanceof Error ? err.message : String(err);
}
