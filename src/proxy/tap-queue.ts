/**
 * Keeps dissection off the forwarding path. The relay forwards a chunk, then hands it here with
 * the time it crossed; the taps' work (decoding, rendering, recording) runs later, on
 * `setImmediate`, so every socket that is ready is read and forwarded before any of it is
 * decoded, and a burst of decoding never sits between a read and the write that forwards it.
 *
 * - Order: one first-in first-out queue for every connection of a proxy, so events come out
 *   (and packets are numbered in a recording) in the order things happened, as they would if
 *   each chunk were decoded at once. Lines the proxy reports itself (`run`) keep their place in
 *   that order. A connection whose dissection is suspended (below) keeps its own order, while
 *   the other connections go on: its later events come after theirs.
 * - Latency: the work runs in slices of about SLICE_MS; between slices the event loop polls the
 *   sockets again, so forwarding waits for at most one slice (plus one step that cannot be cut,
 *   such as hashing a large message).
 * - Inflating is work that the bytes do not bound (a permessage-deflate "bomb" of 78 KB
 *   inflates to --max-inflated, tens of MB): each slice may inflate at most INFLATE_PER_SLICE
 *   bytes (`budget`). A message that needs more suspends its connection's dissection, which
 *   goes on first in the next slices; that connection's later steps are parked meanwhile (and
 *   still counted against the bound below), the other connections' steps run as usual, and the
 *   sockets are served between slices as always.
 * - Memory: at most `maxBacklog` bytes wait to be decoded (each queued step counted as
 *   STEP_COST bytes more, so tiny chunks are bounded too). Past that, `shouldHold` tells the
 *   relays of the connections with more than HEAVY_SHARE of the bound waiting to stop reading
 *   (after forwarding what they have read, at most one read each) until the backlog is down to
 *   half: a proxy short of CPU slows those clients down rather than growing, and nothing goes
 *   undecoded. A connection with little waiting keeps reading, so one peer that the dissection
 *   cannot keep up with (bombs, floods) does not hold up the others; each such connection may
 *   add at most HEAVY_SHARE (plus one read) beyond the bound.
 */
import type { Direction } from '../alerts.js';
import type { WorkBudget } from '../websocket/extension.js';
import type { ConnectionTap } from './tap.js';

/**
 * The default bound of bytes forwarded but not yet decoded, all connections together. Measured
 * with 1 MiB messages: 8 MiB bought no throughput over 1-2 MiB and left the process ~30 MB
 * larger after the transfer (chunks that wait survive young collections and are freed late).
 */
export const DEFAULT_MAX_TAP_BACKLOG = 2 * 1024 * 1024;

/** Milliseconds of decoding between two polls of the sockets. */
const SLICE_MS = 1;

/**
 * Bytes that may be inflated in one slice. pako inflates a bomb's zeros at ~150-450 MB/s here,
 * so this is 0.5-2 ms of work; a message larger than this is inflated over several slices.
 */
export const INFLATE_PER_SLICE = 256 * 1024;

/** When the backlog is at its bound, connections with more than this share of it waiting are held. */
const HEAVY_SHARE = 1 / 16;

/**
 * What a queued step costs besides its bytes (the step, the chunk's Buffer object), counted
 * against the bound so that a flood of tiny chunks is bounded too.
 */
const STEP_COST = 256;

const enum Kind {
  Open,
  Data,
  End,
  Reset,
  Close,
  Run,
}

class Step {
  next: Step | null = null;
  /** Pushed onto the queue, so counted in its backlog (a step done at once is not). */
  counted = false;
  constructor(
    readonly kind: Kind,
    readonly tap: ConnectionTap | null,
    readonly from: Direction,
    readonly bytes: Uint8Array | null,
    readonly ts: number,
    readonly then: (() => void) | null,
  ) {}
}

export interface TapQueueOptions {
  /** Bytes waiting to be decoded before the relays stop reading. Default DEFAULT_MAX_TAP_BACKLOG. */
  maxBacklog?: number;
  /** A step threw (a bug): told once per failure; the queue goes on. */
  onError?: (error: unknown) => void;
}

export class TapQueue {
  private head: Step | null = null;
  private tail: Step | null = null;
  private length = 0;
  private bytes = 0;
  /** Bytes plus STEP_COST per queued step: what the bound applies to. */
  private cost = 0;
  private total = 0;
  private scheduled = false;
  private running = false;
  private readonly max: number;
  private readonly low: number;
  private readonly heavy: number;
  /** Inflating left in this slice; unbounded outside the slices (steps done at once are cheap). Give it to the taps. */
  readonly budget: WorkBudget = { remaining: Infinity };
  /**
   * Connections whose dissection ran out of budget, with their steps that came since, in order:
   * each slice goes on with them first (in turns), then with the queue.
   */
  private readonly parked = new Map<ConnectionTap, Step[]>();
  private waiting = new Set<() => void>();
  private idle: (() => void)[] = [];

  constructor(private readonly options: TapQueueOptions = {}) {
    this.max = Math.max(1, options.maxBacklog ?? DEFAULT_MAX_TAP_BACKLOG);
    this.low = Math.floor(this.max / 2);
    this.heavy = Math.max(1, Math.floor(this.max * HEAVY_SHARE));
  }

  /** Bytes forwarded and not yet decoded. */
  get backlog(): number {
    return this.bytes;
  }

  /** Bytes handed to the queue so far (all relayed bytes). */
  get relayed(): number {
    return this.total;
  }

  /** True while the backlog is at its bound. */
  get full(): boolean {
    return this.cost >= this.max;
  }

  /**
   * Should the relay of `tap` stop reading (see `onRoom`)? While the backlog is at its bound,
   * for a connection with more than its share waiting; never for one with little.
   */
  shouldHold(tap: ConnectionTap): boolean {
    return this.cost >= this.max && tap.queued >= this.heavy;
  }

  open(tap: ConnectionTap, ts: number): void {
    this.later(new Step(Kind.Open, tap, 'client', null, ts, null));
  }

  data(tap: ConnectionTap, from: Direction, bytes: Uint8Array, ts: number): void {
    if (bytes.length === 0) return;
    this.bytes += bytes.length;
    this.total += bytes.length;
    this.push(new Step(Kind.Data, tap, from, bytes, ts, null));
  }

  end(tap: ConnectionTap, from: Direction, ts: number): void {
    this.later(new Step(Kind.End, tap, from, null, ts, null));
  }

  reset(tap: ConnectionTap, from: Direction, ts: number): void {
    this.later(new Step(Kind.Reset, tap, from, null, ts, null));
  }

  /** The tap's last step; `then` runs once it is done. */
  close(tap: ConnectionTap, ts: number, then: () => void): void {
    this.later(new Step(Kind.Close, tap, 'client', null, ts, then));
  }

  /**
   * Runs `fn` in its place in the order: now if nothing waits (or from inside a step, where
   * "now" is its place), else after what is queued.
   */
  run(fn: () => void): void {
    this.later(new Step(Kind.Run, null, 'client', null, 0, fn));
  }

  /** Runs `fn` once every step of `tap` queued so far is done, behind its suspended dissection too. */
  after(tap: ConnectionTap, fn: () => void): void {
    this.later(new Step(Kind.Run, tap, 'client', null, 0, fn));
  }

  /** Calls `resume` once the backlog is down to half its bound (at once if it already is). */
  onRoom(resume: () => void): void {
    if (this.cost <= this.low) resume();
    else this.waiting.add(resume);
  }

  offRoom(resume: () => void): void {
    this.waiting.delete(resume);
  }

  /** Resolves once everything queued so far (and since) has been done. */
  drained(): Promise<void> {
    if (this.length === 0 && this.parked.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /**
   * Steps without bytes (a connection opened, a FIN, a reset, the end, a line of the proxy's
   * own) are cheap: done at once when nothing waits before them, so they are as prompt as
   * without the queue; queued behind the bytes otherwise.
   */
  private later(step: Step): void {
    if (this.running || (this.length === 0 && this.parked.size === 0)) this.dispatch(step);
    else this.push(step);
  }

  private push(step: Step): void {
    step.counted = true;
    const cost = STEP_COST + (step.bytes?.length ?? 0);
    this.cost += cost;
    if (step.tap !== null) step.tap.queued += cost;
    if (this.tail === null) this.head = step;
    else this.tail.next = step;
    this.tail = step;
    this.length++;
    this.schedule();
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.drain);
  }

  private readonly drain = (): void => {
    this.scheduled = false;
    const deadline = performance.now() + SLICE_MS;
    this.running = true;
    this.budget.remaining = INFLATE_PER_SLICE;
    try {
      for (const tap of [...this.parked.keys()]) {
        if (this.budget.remaining <= 0) break;
        this.resumeParked(tap);
      }
      while (this.head !== null) {
        const step = this.head;
        this.head = step.next;
        step.next = null;
        if (this.head === null) this.tail = null;
        this.length--;
        this.dispatch(step);
        if (this.head !== null && performance.now() >= deadline) break;
      }
    } finally {
      this.running = false;
      this.budget.remaining = Infinity;
    }
    if (this.head !== null || this.parked.size > 0) this.schedule();
    if (this.waiting.size > 0 && this.cost <= this.low) {
      const waiting = this.waiting;
      this.waiting = new Set();
      for (const resume of waiting) resume();
    }
    if (this.length === 0 && this.parked.size === 0 && this.idle.length > 0) {
      const idle = this.idle;
      this.idle = [];
      for (const resolve of idle) resolve();
    }
  };

  /** Does a step now, or parks it behind its connection's suspended dissection. */
  private dispatch(step: Step): void {
    const tap = step.tap;
    const parked = tap === null ? undefined : this.parked.get(tap);
    if (parked !== undefined) {
      parked.push(step);
      return;
    }
    this.done(step);
    if (tap?.suspended) this.parked.set(tap, []);
  }

  /** Goes on with a suspended connection, then with its parked steps, until done or suspended again. */
  private resumeParked(tap: ConnectionTap): void {
    const steps = this.parked.get(tap)!;
    // Taken out and put back at the end while still suspended: suspended connections take turns.
    this.parked.delete(tap);
    try {
      tap.resume();
    } catch (error) {
      this.options.onError?.(error);
    }
    let i = 0;
    while (!tap.suspended && i < steps.length) this.done(steps[i++]!);
    if (tap.suspended) this.parked.set(tap, steps.slice(i));
  }

  /** Runs a step, and takes what it cost off the backlog. */
  private done(step: Step): void {
    if (step.counted) {
      const cost = STEP_COST + (step.bytes?.length ?? 0);
      this.cost -= cost;
      if (step.bytes !== null) this.bytes -= step.bytes.length;
      if (step.tap !== null) step.tap.queued -= cost;
    }
    this.step(step);
  }

  private step(step: Step): void {
    try {
      const tap = step.tap!;
      switch (step.kind) {
        case Kind.Open:
          tap.open(step.ts);
          break;
        case Kind.Data:
          tap.data(step.from, step.bytes!, step.ts);
          break;
        case Kind.End:
          tap.end(step.from, step.ts);
          break;
        case Kind.Reset:
          tap.reset(step.from, step.ts);
          break;
        case Kind.Close:
          tap.close(step.ts);
          break;
        case Kind.Run:
          break; // `then` is the step
      }
    } catch (error) {
      this.options.onError?.(error);
    }
    if (step.then !== null) {
      try {
        step.then();
      } catch (error) {
        this.options.onError?.(error);
      }
    }
  }
}
