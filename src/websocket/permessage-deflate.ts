import type { ZStream } from 'pako';
import { makeAlert, type Alert, type AlertExtra, type Direction } from '../alerts.js';
import { loadZlib, onFirstUse } from '../lazy.js';
import { concatBytes, uninitialisedBytes } from './bytes.js';
import { isControlOpcode, Opcode } from './constants.js';
import { RSV1, SUSPENDED, type DecodedPayload, type Extension, type ExtensionDecoder, type Suspended, type WorkBudget } from './extension.js';
import type { Frame, Limits } from './types.js';

/** What RFC 7692 §7.1 negotiated for one direction's compressor. */
export interface DeflateDirectionParams {
  /** `<sender>_no_context_takeover`: every message starts with an empty window. */
  noContextTakeover: boolean;
  /** `<sender>_max_window_bits` (8-15; 15 when absent). */
  maxWindowBits: number;
}

/**
 * Messages of one direction that may inflate beyond --max-inflated before its later compressed
 * messages are no longer inflated. Each such message costs inflating --max-inflated bytes (64 MiB
 * by default, a tenth of a second or more): 100 decompression bombs of 78 KB took 18 s of CPU.
 */
export const MAX_OVERSIZED = 3;

/** §7.2.2: the sender strips this tail from each message; the receiver puts it back. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

function where(frame: Frame): AlertExtra {
  return { direction: frame.direction, offset: frame.offset, ...(frame.start.packet !== undefined ? { packet: frame.start.packet } : {}) };
}

/**
 * pako, loaded on the first connection that needs a persistent inflater: most captures have
 * none, and loading it costs every run ~7 ms (measured). Its CommonJS build is required
 * synchronously, since messages are inflated synchronously.
 */
const loadPako = onFirstUse<typeof import('pako')>('pako');

/** zlib's status codes and flush mode, as pako's low-level API uses them. */
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_BUF_ERROR = -5;
const Z_SYNC_FLUSH = 2;

/**
 * Where each inflate call writes, before its output is copied out at its exact size: inflating
 * is synchronous and one message at a time, so one buffer serves every decoder. pako's Inflate
 * wrapper took a new zero-filled 4 KiB buffer per message instead, and a message kept it.
 */
const OUTPUT_CHUNK = 64 * 1024;
let outputChunk: Uint8Array<ArrayBuffer> | undefined;

/** What an inflater holds as its input between messages (see inflateShared). */
const NO_INPUT = new Uint8Array(0);

/**
 * One direction's inflater. Messages are inflated synchronously, one at a time, so output
 * order is wire order by construction.
 *
 * With context takeover (the window is shared across messages, RFC 7692 §7.2.3.2) one
 * persistent raw inflater follows the sender's compressor for the whole connection. Node's
 * zlib offers that only asynchronously; its synchronous one-shot inflate needs the history as
 * a preset dictionary, which costs ~20 µs per message (measured) whatever the message size,
 * so the persistent inflater is pako's, driven through its zlib-level API (~4 µs per small
 * message with its Inflate wrapper, measured in an earlier round). Without context takeover
 * every message stands alone and Node's native one-shot inflate is the fast path.
 *
 * The history is either the true one or known to be missing, never a guess: after a message
 * that could not be inflated completely (corrupt, cut, over the limit) the inflater is
 * replaced by a fresh one with an empty window. A later message that refers back into the
 * lost part then fails loudly ("too far back") instead of inflating against the wrong bytes;
 * one that does not still inflates correctly. A connection joined mid-stream starts that way.
 */
class DeflateDecoder implements ExtensionDecoder {
  readonly name = 'permessage-deflate';
  readonly rsvMask = RSV1;
  /** The persistent raw inflate stream (context takeover); null until needed, or after BFINAL or a loss. */
  private inflater: ZStream | null = null;
  /** The sender's history before what the inflater has seen is unknown (mid-stream start, or a message was lost). */
  private historyUnknown: boolean;
  /** Only one context-unknown notice per direction instead of one alert per message. */
  private noticeGiven = false;
  /** The message whose inflation ran out of budget, to go on with. */
  private job: InflateJob | null = null;
  /** Messages that inflated beyond the limit; at MAX_OVERSIZED this direction is no longer inflated. */
  private oversized = 0;
  private bombsReported = false;

  constructor(
    private readonly params: DeflateDirectionParams,
    private readonly maxInflated: number,
    /** True when the handshake was not seen: the extension is assumed, its parameters unknown. */
    private readonly assumed: boolean,
    /** Bytes that may be inflated before control goes back to the caller (wsproxy); none: no bound. */
    private readonly budget?: WorkBudget,
  ) {
    this.historyUnknown = assumed;
  }

  checkFrame(frame: Frame): Alert[] {
    // Mid-stream, RSV1 may belong to another extension: RFC 7692's rules cannot be applied.
    if (!frame.rsv1 || this.assumed) return [];
    // §6.1: RSV1 is the "Per-Message Compressed" bit of a message's first frame, nowhere else.
    if (isControlOpcode(frame.opcode)) {
      return [makeAlert('deflate.rsv1-control', `RSV1 set on a ${frame.opcodeName} frame: control frames are never compressed.`, where(frame))];
    }
    if (frame.opcode === Opcode.Continuation) {
      return [makeAlert('deflate.rsv1-continuation', 'RSV1 set on a continuation frame: only the first frame of a message carries it.', where(frame))];
    }
    return [];
  }

  decodeMessage(data: Uint8Array, first: Frame, truncated: boolean): DecodedPayload | Suspended {
    if (!first.rsv1) return { data, transformed: false, truncated, length: data.length, alerts: [] };
    if (this.oversized >= MAX_OVERSIZED) return this.notInflated(data, first, truncated);
    // §7.2.2: the sender removed the 00 00 ff ff of its sync flush; put it back.
    const input = uninitialisedBytes(data.length + TAIL.length);
    input.set(data);
    input.set(TAIL, data.length);
    if (!this.params.noContextTakeover) return this.run(newJob(data, first, truncated, input, this.stream()));
    const budget = this.budget;
    if (budget === undefined || budget.remaining >= this.maxInflated) return this.finish(this.inflateAlone(input, this.maxInflated), data, first, truncated);
    // Within the budget, Node's native one-shot inflate; beyond it, a stream of its own that can
    // stop and go on (what the one-shot attempt produced is counted, then inflated again).
    const attempt = this.inflateAlone(input, Math.max(1, budget.remaining));
    if (attempt.ok || !attempt.tooLarge) {
      if (attempt.ok) budget.remaining -= attempt.data.length;
      return this.finish(attempt, data, first, truncated);
    }
    budget.remaining = 0;
    return this.run(newJob(data, first, truncated, input, newStream()));
  }

  resumeMessage(): DecodedPayload | Suspended {
    const job = this.job;
    if (job === null) throw new Error('permessage-deflate: no message to resume');
    this.job = null;
    return this.run(job);
  }

  /** Inflates a message as far as the budget allows: its result, or SUSPENDED with the job kept. */
  private run(job: InflateJob): DecodedPayload | Suspended {
    const result = this.inflate(job);
    if (result === SUSPENDED) {
      this.job = job;
      return SUSPENDED;
    }
    return this.finish(result, job.data, job.first, job.truncated);
  }

  /** What a message's inflation came to, as the decoded payload and its alerts. */
  private finish(result: InflateResult, data: Uint8Array, first: Frame, truncated: boolean): DecodedPayload {
    if (result.ok) {
      // A message cut short (limit, capture gap) leaves the rest of the history unknown.
      if (truncated && !this.params.noContextTakeover) this.forget();
      return { data: result.data, transformed: true, truncated, length: result.data.length, alerts: [] };
    }
    const unknownBefore = this.historyUnknown && !this.params.noContextTakeover;
    if (!this.params.noContextTakeover) this.forget();
    const alerts: Alert[] = [];
    if (result.tooLarge) {
      this.oversized++;
      alerts.push(makeAlert('deflate.too-large', `Message inflates to more than ${this.maxInflated} bytes (the --max-inflated limit): not shown.`, { ...where(first), detail: { limit: this.maxInflated, compressed: data.length } }));
      return { data: new Uint8Array(0), transformed: true, truncated: true, length: this.maxInflated, alerts };
    }
    if (unknownBefore) {
      // Most likely it refers back to history we never saw: say so once, not per message.
      if (!this.noticeGiven) {
        this.noticeGiven = true;
        const why = this.assumed ? 'the capture started after the handshake' : 'an earlier message could not be inflated';
        alerts.push(makeAlert('deflate.context-unknown', `Compressed messages refer back to data not in the capture (${why}): those that do cannot be inflated and are shown compressed.`, where(first)));
      }
      return { data, transformed: false, failed: true, truncated, length: data.length, alerts };
    }
    alerts.push(makeAlert('deflate.inflate-failed', `Compressed message (${data.length} bytes) does not inflate: ${result.reason}.${this.params.noContextTakeover ? '' : ' Later messages that refer back to it cannot be inflated either.'}`, where(first)));
    return { data, transformed: false, failed: true, truncated, length: data.length, alerts };
  }

  /** After MAX_OVERSIZED bombs: shown compressed, said once. */
  private notInflated(data: Uint8Array, first: Frame, truncated: boolean): DecodedPayload {
    const alerts: Alert[] = [];
    if (!this.bombsReported) {
      this.bombsReported = true;
      alerts.push(
        makeAlert(
          'deflate.bombs',
          `${MAX_OVERSIZED} messages of the ${first.direction} inflated beyond ${this.maxInflated} bytes (the --max-inflated limit): this one and its later compressed messages are not inflated, and shown compressed (a larger --max-inflated inflates them).`,
          { ...where(first), detail: { limit: this.maxInflated, oversized: this.oversized } },
        ),
      );
    }
    return { data, transformed: false, failed: true, truncated, length: data.length, alerts };
  }

  /** no_context_takeover: each message is a complete raw deflate stream on its own; Node's one-shot inflate. */
  private inflateAlone(input: Uint8Array, maxOutputLength: number): InflateResult {
    try {
      const { constants, inflateRawSync } = loadZlib();
      const out = inflateRawSync(input, { finishFlush: constants.Z_SYNC_FLUSH, maxOutputLength });
      return { ok: true, data: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
    } catch (error) {
      if ((error as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') return { ok: false, tooLarge: true, reason: '' };
      return { ok: false, tooLarge: false, reason: error instanceof Error ? error.message : String(error) };
    }
  }

  /**
   * The job's deflate stream (context takeover: the next piece of the sender's one long deflate
   * stream), 64 KiB of output at a time, until the input is used up, the limit is passed, or the
   * budget runs out (SUSPENDED: the stream and what it produced stay in the job).
   */
  private inflate(job: InflateJob): InflateResult | Suspended {
    const { strm } = job;
    const { zlibInflate } = loadPako();
    // (Taken away between calls, see below; where it stands, next_in and avail_in, is kept.)
    strm.input = job.input;
    const budget = this.budget;
    try {
      for (;;) {
        if (budget !== undefined && budget.remaining <= 0) return SUSPENDED;
        const out = (outputChunk ??= new Uint8Array(OUTPUT_CHUNK));
        strm.output = out;
        strm.next_out = 0;
        strm.avail_out = out.length;
        const status = zlibInflate(strm, Z_SYNC_FLUSH);
        // Z_BUF_ERROR: no progress was possible, which at the end of the input is not an error.
        if (status !== Z_OK && status !== Z_STREAM_END && status !== Z_BUF_ERROR) {
          return this.done(job, { ok: false, tooLarge: false, reason: strm.msg || `zlib error ${status}` });
        }
        const produced = strm.next_out;
        job.length += produced;
        if (budget !== undefined) budget.remaining -= produced;
        if (job.length > this.maxInflated) return this.done(job, { ok: false, tooLarge: true, reason: '' });
        if (produced > 0) {
          const chunk = uninitialisedBytes(produced);
          chunk.set(out.subarray(0, produced));
          job.chunks.push(chunk);
        }
        // §7.2.3.4: a block with BFINAL set ends this deflate stream; the next message starts a new one.
        if (status === Z_STREAM_END) {
          if (strm === this.inflater) this.inflater = null;
          break;
        }
        // Room left in the output: all the input that can be inflated has been.
        if (strm.avail_out > 0) break;
      }
    } finally {
      // The input is a piece of a slab shared with other buffers: an idle connection's
      // inflater must not keep the slab alive (a suspended job keeps it in the job).
      strm.input = NO_INPUT;
    }
    return this.done(job, { ok: true, data: concatBytes(job.chunks, job.length) });
  }

  /** The job is over: what it produced is let go of with it. */
  private done(job: InflateJob, result: InflateResult): InflateResult {
    job.chunks = [];
    return result;
  }

  private stream(): ZStream {
    this.inflater ??= newStream();
    return this.inflater;
  }

  /** The history is lost: start over with an empty window. */
  private forget(): void {
    this.inflater = null;
    this.historyUnknown = true;
  }
}

type InflateResult = { ok: true; data: Uint8Array } | { ok: false; tooLarge: boolean; reason: string };

/** A message being inflated: its input, the stream inflating it, and what came out so far. */
interface InflateJob {
  /** The compressed message as received (what a failed message shows). */
  data: Uint8Array;
  first: Frame;
  truncated: boolean;
  /** `data` with the sync-flush tail put back. */
  input: Uint8Array;
  strm: ZStream;
  chunks: Uint8Array[];
  length: number;
}

function newJob(data: Uint8Array, first: Frame, truncated: boolean, input: Uint8Array, strm: ZStream): InflateJob {
  strm.next_in = 0;
  strm.avail_in = input.length;
  return { data, first, truncated, input, strm, chunks: [], length: 0 };
}

/** A pako raw inflate stream; window bits 15 accept a stream made with any negotiated window (8-15). */
function newStream(): ZStream {
  const { ZStream, zlibInflateInit2 } = loadPako();
  const strm = new ZStream();
  const status = zlibInflateInit2(strm, -15);
  if (status !== Z_OK) throw new Error(`pako could not start an inflater: ${strm.msg || status}`);
  return strm;
}

/** permessage-deflate as negotiated: `client` is what the client's compressor agreed to, `server` likewise. */
export function permessageDeflate(params: Record<Direction, DeflateDirectionParams>): Extension {
  return {
    name: 'permessage-deflate',
    createDecoder: (direction: Direction, limits: Limits, budget?: WorkBudget) => new DeflateDecoder(params[direction], limits.maxInflatedSize, false, budget),
  };
}

/**
 * For a connection decoded without its handshake: RSV1 is taken to mean permessage-deflate
 * (what browsers and servers use), with unknown parameters and an unknown shared history.
 * Messages that do not depend on that history are inflated; the others are reported once.
 */
export function assumedPermessageDeflate(): Extension {
  const params = { noContextTakeover: false, maxWindowBits: 15 };
  return {
    name: 'permessage-deflate',
    createDecoder: (_direction: Direction, limits: Limits, budget?: WorkBudget) => new DeflateDecoder(params, limits.maxInflatedSize, true, budget),
  };
}
