/**
 * Content codings of HTTP bodies (RFC 9110 §8.4): gzip, deflate and br undone for display.
 * A whole body is decoded with node:zlib's one-shot functions (loaded on first use), its output
 * capped; a body read as it streams (an event stream sent gzipped) goes through pako's
 * streaming inflater, since node:zlib has no synchronous streaming one. Brotli has no
 * synchronous streaming decoder here: such a stream is decoded when it ends.
 */
import { loadZlib, onFirstUse } from '../lazy.js';
import { headerValues, tokenList, type HttpHeader } from './http-parser.js';

const loadPako = onFirstUse<typeof import('pako')>('pako');

/** The codings applied to a body, in the order they were applied, lowercased; identity left out. */
export function contentCodings(headers: HttpHeader[]): string[] {
  return tokenList(headerValues(headers, 'Content-Encoding'))
    .map((c) => c.toLowerCase())
    .filter((c) => c !== 'identity');
}

/** Codings wsdump can undo. x-gzip is gzip (RFC 9110 §8.4.1.3). */
export function decodable(codings: string[]): boolean {
  return codings.every((c) => c === 'gzip' || c === 'x-gzip' || c === 'deflate' || c === 'br');
}

export interface DecodedBody {
  data: Uint8Array;
  /** Why the body could not be decoded (it is then `data` as received), or null. */
  error: string | null;
  /** The output reached `maxOutput` and was cut there. */
  truncated: boolean;
}

/** Undoes `codings` (last applied first) on a whole body, at most `maxOutput` bytes out. */
export function decodeBody(raw: Uint8Array, codings: string[], maxOutput: number): DecodedBody {
  if (codings.length === 0) return { data: raw, error: null, truncated: false };
  if (!decodable(codings)) return { data: raw, error: `content coding ${codings.join(', ')} is not decoded`, truncated: false };
  const zlib = loadZlib();
  let data = raw;
  let truncated = false;
  for (let i = codings.length - 1; i >= 0; i--) {
    const coding = codings[i]!;
    // A body cut by the capture still decodes up to the cut: flush what the input gives.
    const options = { maxOutputLength: maxOutput, finishFlush: coding === 'br' ? zlib.constants.BROTLI_OPERATION_FLUSH : zlib.constants.Z_SYNC_FLUSH };
    try {
      if (coding === 'br') data = zlib.brotliDecompressSync(data, options);
      else if (coding === 'deflate') data = inflateEither(zlib, data, options);
      else data = zlib.gunzipSync(data, options);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
        truncated = true;
        return { data: new Uint8Array(0), error: `it decodes to more than ${maxOutput} bytes (--max-inflated)`, truncated };
      }
      return { data: raw, error: `${coding} does not decode (${(error as Error).message})`, truncated: false };
    }
  }
  return { data, error: null, truncated };
}

/** RFC 9110 §8.4.1.2: "deflate" is the zlib format, but some servers send raw deflate. */
function inflateEither(zlib: typeof import('node:zlib'), data: Uint8Array, options: import('node:zlib').ZlibOptions): Uint8Array {
  const zlibHeader = data.length >= 2 && (data[0]! & 0x0f) === 8 && ((data[0]! << 8) | data[1]!) % 31 === 0;
  return zlibHeader ? zlib.inflateSync(data, options) : zlib.inflateRawSync(data, options);
}

/**
 * A body's content coding undone as the body streams (for event streams): gzip and deflate
 * chunk by chunk; anything else is not decoded (`error` says why).
 */
export class StreamingBodyDecoder {
  private inflate: import('pako').Inflate | null = null;
  private out: Uint8Array[] = [];
  private produced = 0;
  error: string | null = null;

  constructor(
    private readonly codings: string[],
    private readonly maxOutput: number,
  ) {
    if (codings.length !== 1 || !['gzip', 'x-gzip', 'deflate'].includes(codings[0]!)) {
      this.error = `content coding ${codings.join(', ')} is not decoded as it streams`;
    }
  }

  /** The decoded bytes this chunk gives (possibly none). */
  push(chunk: Uint8Array): Uint8Array[] {
    if (this.error !== null) return [];
    if (this.inflate === null) {
      const pako = loadPako();
      // 15 + 32: zlib or gzip, told apart by their headers; a raw deflate stream is tried as such.
      const raw = this.codings[0] === 'deflate' && !(chunk.length >= 2 && (chunk[0]! & 0x0f) === 8 && ((chunk[0]! << 8) | chunk[1]!) % 31 === 0);
      this.inflate = new pako.Inflate({ windowBits: raw ? -15 : 15 + 32 });
      this.inflate.onData = (piece: Uint8Array) => {
        if (this.produced >= this.maxOutput) return;
        const room = this.maxOutput - this.produced;
        const kept = piece.length > room ? piece.subarray(0, room) : piece;
        this.produced += kept.length;
        this.out.push(kept);
      };
    }
    this.inflate.push(chunk, 2 /* Z_SYNC_FLUSH: hand out what this chunk completes */);
    if (this.inflate.err) this.error = `${this.codings[0]} does not decode (${this.inflate.msg || `error ${this.inflate.err}`})`;
    const out = this.out;
    this.out = [];
    return out;
  }
}
