/**
 * IP fragment reassembly (RFC 791 §3.2 for IPv4, RFC 8200 §4.5 for IPv6), bounded: at most
 * `maxDatagrams` datagrams in progress (the oldest is dropped first) and `maxPieces` fragments
 * per datagram, so a capture full of lone fragments cannot grow memory.
 */

interface Piece {
  offset: number;
  bytes: Uint8Array;
}

interface Pending {
  pieces: Piece[];
  /** Known once the last fragment (More Fragments = 0) has been seen. */
  total: number | undefined;
}

export interface FragmentReassemblerOptions {
  maxDatagrams?: number;
  maxPieces?: number;
}

/** Largest datagram payload: offsets are 13 bits of 8-byte units plus a 16-bit length. */
const MAX_DATAGRAM = 65_535;

export class FragmentReassembler {
  private readonly pending = new Map<string, Pending>();
  private readonly maxDatagrams: number;
  private readonly maxPieces: number;

  constructor(options: FragmentReassemblerOptions = {}) {
    this.maxDatagrams = options.maxDatagrams ?? 64;
    this.maxPieces = options.maxPieces ?? 128;
  }

  /** Datagrams in progress (for tests and statistics). */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Adds one fragment; returns the whole payload once every byte from 0 to the end is present,
   * otherwise undefined. Overlaps keep the first copy. The bytes are copied: the capture
   * reader may reuse its buffers before the last fragment arrives.
   */
  add(key: string, offset: number, bytes: Uint8Array, more: boolean): Uint8Array | undefined {
    const end = offset + bytes.length;
    if (end > MAX_DATAGRAM) {
      this.pending.delete(key);
      return undefined;
    }
    let entry = this.pending.get(key);
    if (entry === undefined) {
      entry = { pieces: [], total: undefined };
      this.pending.set(key, entry);
      if (this.pending.size > this.maxDatagrams) {
        const oldest = this.pending.keys().next().value;
        if (oldest !== undefined) this.pending.delete(oldest);
      }
    }
    if (!more) {
      if (entry.total !== undefined && entry.total !== end) {
        // Two different last fragments: the datagram cannot be rebuilt reliably.
        this.pending.delete(key);
        return undefined;
      }
      entry.total = end;
    }
    if (entry.total !== undefined && end > entry.total) {
      this.pending.delete(key);
      return undefined;
    }
    entry.pieces.push({ offset, bytes: bytes.slice() });
    if (entry.pieces.length > this.maxPieces) {
      this.pending.delete(key);
      return undefined;
    }
    if (entry.total === undefined) return undefined;

    const sorted = [...entry.pieces].sort((a, b) => a.offset - b.offset);
    let covered = 0;
    for (const piece of sorted) {
      if (piece.offset > covered) return undefined;
      covered = Math.max(covered, piece.offset + piece.bytes.length);
    }
    if (covered < entry.total) return undefined;

    const whole = new Uint8Array(entry.total);
    // Written newest first so that the first copy of any overlapping byte is the one kept.
    for (let i = entry.pieces.length - 1; i >= 0; i--) {
      const piece = entry.pieces[i]!;
      whole.set(piece.bytes, piece.offset);
    }
    this.pending.delete(key);
    return whole;
  }
}
