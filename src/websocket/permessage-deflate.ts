import { constants, inflateRawSync } from 'node:zlib';
import { makeAlert, type Alert, type AlertExtra, type Direction } from '../alerts.js';
import { isControlOpcode, Opcode } from './constants.js';
import { RSV1, type DecodedPayload, type Extension, type ExtensionDecoder } from './extension.js';
import type { Frame, Limits } from './types.js';

/** What RFC 7692 §7.1 negotiated for one direction's compressor. */
export interface DeflateDirectionParams {
  /** `<sender>_no_context_takeover`: every message starts with an empty window. */
  noContextTakeover: boolean;
  /** `<sender>_max_window_bits` (8-15; 15 when absent). */
  maxWindowBits: number;
}

/** §7.2.2: the sender strips this tail from each message; the receiver puts it back. */
const TAIL = new Uint8Array([0x00, 0x00, 0xff, 0xff]);

/** The largest LZ77 window (2^15): enough history for any negotiated window size. */
const MAX_WINDOW = 32 * 1024;

function where(frame: Frame): AlertExtra {
  return { direction: frame.direction, offset: frame.offset, ...(frame.start.packet !== undefined ? { packet: frame.start.packet } : {}) };
}

/**
 * One direction's inflater. Messages are inflated synchronously, one at a time, so output
 * order is wire order by construction. Context takeover (§7.2.3.2 style sharing of the window
 * across messages) is reproduced by priming each inflate with the last 32 KiB of what the
 * previous messages inflated to, as a preset dictionary: that is exactly the history the
 * sender's compressor could refer back to.
 */
class DeflateDecoder implements ExtensionDecoder {
  readonly name = 'permessage-deflate';
  readonly rsvMask = RSV1;
  private window: Uint8Array = new Uint8Array(0);
  /** True once a message could not be inflated while the context is shared: later ones may fail too. */
  private contextLost = false;

  constructor(
    private readonly params: DeflateDirectionParams,
    private readonly maxInflated: number,
  ) {}

  checkFrame(frame: Frame): Alert[] {
    if (!frame.rsv1) return [];
    // §6.1: RSV1 is the "Per-Message Compressed" bit of a message's first frame, nowhere else.
    if (isControlOpcode(frame.opcode)) {
      return [makeAlert('deflate.rsv1-control', `RSV1 set on a ${frame.opcodeName} frame: control frames are never compressed.`, where(frame))];
    }
    if (frame.opcode === Opcode.Continuation) {
      return [makeAlert('deflate.rsv1-continuation', 'RSV1 set on a continuation frame: only the first frame of a message carries it.', where(frame))];
    }
    return [];
  }

  decodeMessage(data: Uint8Array, first: Frame, truncated: boolean): DecodedPayload {
    if (!first.rsv1) return { data, transformed: false, truncated, length: data.length, alerts: [] };
    const alerts: Alert[] = [];
    if (truncated) {
      // Part of the compressed bytes is missing: inflate what there is, the rest of the message and
      // (with context takeover) the shared window are unknown.
      this.contextLost = !this.params.noContextTakeover;
    }
    const input = new Uint8Array(data.length + TAIL.length);
    input.set(data);
    input.set(TAIL, data.length);
    try {
      const out = inflateRawSync(input, {
        finishFlush: constants.Z_SYNC_FLUSH,
        maxOutputLength: this.maxInflated,
        ...(this.params.noContextTakeover || this.window.length === 0 ? {} : { dictionary: this.window }),
      });
      const inflated = new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
      this.remember(inflated);
      return { data: inflated, transformed: true, truncated, length: inflated.length, alerts };
    } catch (error) {
      const code = (error as { code?: string }).code;
      if (!this.params.noContextTakeover) this.contextLost = true;
      if (code === 'ERR_BUFFER_TOO_LARGE') {
        alerts.push(makeAlert('deflate.too-large', `Message inflates to more than ${this.maxInflated} bytes (the --max-inflated limit): not shown.`, { ...where(first), detail: { limit: this.maxInflated, compressed: data.length } }));
        return { data: new Uint8Array(0), transformed: true, truncated: true, length: this.maxInflated, alerts };
      }
      const reason = error instanceof Error ? error.message : String(error);
      alerts.push(makeAlert('deflate.inflate-failed', `Compressed message (${data.length} bytes) does not inflate: ${reason}.${this.contextLost ? ' The shared compression context is lost: later messages may not inflate either.' : ''}`, where(first)));
      return { data, transformed: false, failed: true, truncated, length: data.length, alerts };
    }
  }

  private remember(output: Uint8Array): void {
    if (this.params.noContextTakeover) return;
    if (output.length >= MAX_WINDOW) {
      this.window = output.slice(output.length - MAX_WINDOW);
      return;
    }
    const keep = Math.min(this.window.length, MAX_WINDOW - output.length);
    const next = new Uint8Array(keep + output.length);
    next.set(this.window.subarray(this.window.length - keep));
    next.set(output, keep);
    this.window = next;
  }
}

/** permessage-deflate as negotiated: `client` is what the client's compressor agreed to, `server` likewise. */
export function permessageDeflate(params: Record<Direction, DeflateDirectionParams>): Extension {
  return {
    name: 'permessage-deflate',
    createDecoder: (direction: Direction, limits: Limits) => new DeflateDecoder(params[direction], limits.maxInflatedSize),
  };
}
