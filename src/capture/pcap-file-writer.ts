/**
 * Classic pcap files from recorded packets: little-endian, microsecond timestamps,
 * LINKTYPE_ETHERNET (1) unless told otherwise. Either all at once into a Buffer (fixtures,
 * tests), or record by record into a Writable (wsproxy --write), so a proxy that is killed
 * still leaves a file readable up to its last complete record.
 */
import type { Writable } from 'node:stream';
import { writePcapHeader, writePcapRecord, type PcapWriterOptions } from './pcap-writer.js';
import type { RecordedPacket } from './tcp-recorder.js';

export const LINKTYPE_ETHERNET = 1;

export interface PcapFileOptions {
  /** Default LINKTYPE_ETHERNET (1), what TcpConversationRecorder produces. */
  linkType?: number;
  snapLength?: number;
  nanosecond?: boolean;
}

function writerOptions(options: PcapFileOptions): PcapWriterOptions {
  return {
    linkType: options.linkType ?? LINKTYPE_ETHERNET,
    byteOrder: 'LE',
    ...(options.snapLength !== undefined ? { snapLength: options.snapLength } : {}),
    ...(options.nanosecond !== undefined ? { nanosecond: options.nanosecond } : {}),
  };
}

/** A whole pcap file: the global header, then the packets in the order given. */
export function buildPcapFile(packets: Iterable<RecordedPacket>, options: PcapFileOptions = {}): Buffer {
  const opts = writerOptions(options);
  const parts: Buffer[] = [writePcapHeader(opts)];
  for (const packet of packets) parts.push(writePcapRecord({ ts: packet.ts, data: packet.data }, opts));
  return Buffer.concat(parts);
}

/**
 * Streams a pcap file into a Writable. The header goes out at construction; each `write` call
 * goes out as one chunk of whole records. `write` returns false when the sink is over its
 * high-water mark, like Writable.write: the caller should then await `drained()` before
 * writing more, which bounds memory by the sink's buffer. A sink error does not throw at the
 * caller (a failing disk must not stop a relay): later writes are dropped, `error` holds it,
 * and `drained()` and `end()` reject with it.
 */
export class PcapStreamWriter {
  private readonly options: PcapWriterOptions;
  private count = 0;
  private failure: Error | null = null;
  private ended = false;

  constructor(
    private readonly sink: Writable,
    options: PcapFileOptions = {},
  ) {
    this.options = writerOptions(options);
    sink.on('error', (err: Error) => {
      this.failure ??= err;
    });
    sink.write(writePcapHeader(this.options));
  }

  /** Records written so far: the number of the last packet written (pcap numbers packets from 1). */
  get packets(): number {
    return this.count;
  }

  get error(): Error | null {
    return this.failure;
  }

  write(packets: RecordedPacket | readonly RecordedPacket[]): boolean {
    if (this.ended) throw new Error('the pcap writer has been ended');
    if (this.failure !== null) return true;
    const list = Array.isArray(packets) ? (packets as readonly RecordedPacket[]) : [packets as RecordedPacket];
    if (list.length === 0) return !this.sink.writableNeedDrain;
    const chunk = Buffer.concat(list.map((p) => writePcapRecord({ ts: p.ts, data: p.data }, this.options)));
    this.count += list.length;
    return this.sink.write(chunk);
  }

  /** Resolves once the sink can take more (at once when it is not backed up). */
  drained(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (!this.sink.writableNeedDrain) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const done = (err?: Error): void => {
        this.sink.off('drain', onDrain);
        this.sink.off('error', onError);
        this.sink.off('close', onClose);
        if (err !== undefined) reject(err);
        else resolve();
      };
      const onDrain = (): void => done();
      const onError = (err: Error): void => done(err);
      const onClose = (): void => done(this.failure ?? new Error('the pcap sink closed before draining'));
      this.sink.on('drain', onDrain);
      this.sink.on('error', onError);
      this.sink.on('close', onClose);
    });
  }

  /** Ends the sink and resolves when everything has been flushed to it. */
  end(): Promise<void> {
    if (this.ended) return this.failure !== null ? Promise.reject(this.failure) : Promise.resolve();
    this.ended = true;
    if (this.failure !== null) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.sink.once('error', onError);
      this.sink.end(() => {
        this.sink.off('error', onError);
        if (this.failure !== null) reject(this.failure);
        else resolve();
      });
    });
  }
}
