/**
 * `--script FILE.mjs`: an ES module whose hooks see each WebSocket data message on its way
 * through (after reassembly; permessage-deflate is negotiated away for a scripted proxy, so the
 * message is never compressed) and decide what becomes of it. See README, "Scripts".
 *
 *   export function onMessage(message, ctx) { … }   // nothing: pass it on; null: drop it;
 *                                                    // a string or bytes: replace it;
 *                                                    // { delay: ms } (and optionally data): hold it
 *   export function onOpen(ctx) { … }               // after the 101
 *   export function onClose(ctx) { … }              // when the connection is over
 *
 * A hook may return a promise: the messages of that direction wait for it, in order. A hook
 * that throws (or rejects) is reported once, with its stack, and the message goes on unchanged.
 */
import { pathToFileURL } from 'node:url';
import type { Direction } from '../../alerts.js';
import type { AppEvent } from '../../app/types.js';
import type { HttpHeader } from '../../http/http-parser.js';

/** What a hook is shown of a message. */
export interface ScriptMessage {
  /** Who sent it: 'client' or 'server'. */
  from: Direction;
  type: 'text' | 'binary';
  /** The payload (unmasked, whole). */
  data: Buffer;
  /** The text of a text message (when it is valid UTF-8). */
  text?: string;
  /** What the application layer made of it (Socket.IO events, JSON-RPC calls …), possibly none. */
  app: AppEvent[];
}

/** The handshake, as the proxy relayed it. */
export interface ScriptHandshake {
  method: string;
  /** The request target: path and query. */
  path: string;
  requestHeaders: HttpHeader[];
  status: number;
  responseHeaders: HttpHeader[];
  /** The subprotocol the server chose (Sec-WebSocket-Protocol), or null. */
  protocol: string | null;
}

export interface ScriptContext {
  /** The proxy's connection number (#N in the view). */
  conn: number;
  handshake: ScriptHandshake;
  /** In onMessage: the application layer's decoding of this message (as message.app); elsewhere []. */
  app: AppEvent[];
  /** A place for the script's own per-connection state (timers, counters). */
  state: Record<string, unknown>;
  /**
   * Sends a message of the proxy's own to 'client' or 'server' (a string as text, bytes as
   * binary), after what is already on its way there. False when that side can no longer take one.
   */
  send(to: Direction, data: string | Uint8Array): boolean;
  /** Starts a closing handshake with both sides (RFC 6455 §7.1.2): Close `code` (default 1000) and `reason`. */
  close(code?: number, reason?: string): void;
}

export type HookOutcome = undefined | null | string | Uint8Array | { delay?: number; data?: string | Uint8Array };

export interface InterceptScript {
  /** The file, as given. */
  readonly path: string;
  onMessage?: (message: ScriptMessage, ctx: ScriptContext) => HookOutcome | Promise<HookOutcome>;
  onOpen?: (ctx: ScriptContext) => void | Promise<void>;
  onClose?: (ctx: ScriptContext) => void | Promise<void>;
}

/** The script cannot be used: one line, for the command's stderr. */
export class ScriptError extends Error {}

const HOOKS = ['onMessage', 'onOpen', 'onClose'] as const;
export type HookName = (typeof HOOKS)[number];

/** Imports FILE and takes its hooks: named exports, or the same names on a default export. */
export async function loadScript(path: string): Promise<InterceptScript> {
  let module: Record<string, unknown>;
  try {
    module = (await import(pathToFileURL(path).href)) as Record<string, unknown>;
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    if (e.code === 'ERR_MODULE_NOT_FOUND' && e.message.includes(path.split('/').pop() ?? path)) throw new ScriptError(`cannot load the script ${path}: no such file`);
    throw new ScriptError(`cannot load the script ${path}: ${(e.message ?? String(error)).split('\n')[0]}`);
  }
  const source = module.default !== null && typeof module.default === 'object' ? { ...(module.default as Record<string, unknown>), ...module } : module;
  const script: { -readonly [K in keyof InterceptScript]: InterceptScript[K] } = { path };
  for (const hook of HOOKS) {
    const fn = source[hook];
    if (fn === undefined) continue;
    if (typeof fn !== 'function') throw new ScriptError(`the script ${path}: ${hook} is not a function`);
    (script as Record<string, unknown>)[hook] = fn;
  }
  if (!HOOKS.some((hook) => script[hook] !== undefined)) throw new ScriptError(`the script ${path} exports none of onMessage, onOpen, onClose`);
  return script;
}

/**
 * Runs hooks and keeps the promise made about their errors: each hook's first failure is
 * reported with its stack, later ones are counted (and told once at the end).
 */
export class ScriptHost {
  private readonly failures = new Map<HookName, number>();

  constructor(
    readonly script: InterceptScript,
    /** A hook failed for the first time: its name, the connection, and the error (with its stack). */
    private readonly onFailure: (hook: HookName, conn: number, error: unknown) => void,
  ) {}

  /** How many times each hook failed, all connections (for the last line). */
  get failed(): ReadonlyMap<HookName, number> {
    return this.failures;
  }

  failure(hook: HookName, conn: number, error: unknown): void {
    const count = (this.failures.get(hook) ?? 0) + 1;
    this.failures.set(hook, count);
    if (count === 1) this.onFailure(hook, conn, error);
  }

  /**
   * Calls a hook; returns its result, or a promise of it when it returned one (a rejection is
   * a failure, and resolves to undefined). A hook that throws gives undefined.
   */
  call<T>(hook: HookName, conn: number, run: () => T | Promise<T>): T | undefined | Promise<T | undefined> {
    let result: T | Promise<T>;
    try {
      result = run();
    } catch (error) {
      this.failure(hook, conn, error);
      return undefined;
    }
    if (result !== null && typeof (result as { then?: unknown })?.then === 'function') {
      return (result as Promise<T>).then(
        (value) => value,
        (error: unknown) => {
          this.failure(hook, conn, error);
          return undefined;
        },
      );
    }
    return result as T;
  }
}

/** Whether a value is a promise (any thenable). */
export function isThenable(value: unknown): value is Promise<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}
