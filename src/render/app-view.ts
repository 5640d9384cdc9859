/**
 * How the human views show application messages (src/app): the line under a message in the
 * table, and the per-connection counts --summary adds (by kind, by event name, and the
 * latency of each kind of answer).
 */
import type { AppEvent } from '../app/types.js';
import { Samples } from '../websocket/samples.js';
import { escapeText } from './escape.js';

/** Distinct names counted per connection; beyond, the rest are counted together. */
const MAX_NAMES = 1000;
/** Names listed in a summary line. */
const SHOWN_NAMES = 12;
/** Marks a latency key of messages that end or feed their sender's own request (AppEvent.ownRequest). */
const OWN = 'own ';

/** The text of an app event's line, escaped and cut to `max` characters. */
export function appText(e: AppEvent, max: number): string {
  return escapeText(e.summary, Math.max(20, max));
}

/** The transport in a few letters, for the --events view. */
export function viaText(e: AppEvent): string {
  return e.transport === 'websocket' ? 'ws' : e.transport === 'polling' ? 'poll' : e.transport;
}

interface ConnStats {
  protocols: Map<string, number>;
  kinds: Map<string, number>;
  names: Map<string, number>;
  otherNames: number;
  latencies: Map<string, Samples>;
  sessions: Set<string>;
  alerts: number;
}

/** --summary: what each connection's application messages were, counted as they pass. */
export class AppSummary {
  private readonly conns = new Map<number, ConnStats>();

  add(e: AppEvent): void {
    let s = this.conns.get(e.conn);
    if (s === undefined) {
      s = { protocols: new Map(), kinds: new Map(), names: new Map(), otherNames: 0, latencies: new Map(), sessions: new Set(), alerts: 0 };
      this.conns.set(e.conn, s);
    }
    bump(s.protocols, e.protocol);
    bump(s.kinds, `${e.protocol} ${e.kind}`);
    if (e.name !== null) {
      if (s.names.has(e.name) || s.names.size < MAX_NAMES) bump(s.names, e.name);
      else s.otherNames++;
    }
    if (e.latencyMs !== null) {
      // A sender ending (or feeding) its own request is not an answer: counted apart.
      const key = `${e.ownRequest === true ? OWN : ''}${e.protocol} ${e.kind}`;
      let l = s.latencies.get(key);
      if (l === undefined) s.latencies.set(key, (l = new Samples()));
      l.add(e.latencyMs);
    }
    if (e.session !== null && s.sessions.size < 4) s.sessions.add(e.session);
    s.alerts += e.alerts.length;
  }

  /** The lines for connection `conn` (and forgets it), indented under its summary block. */
  take(conn: number): string[] {
    const s = this.conns.get(conn);
    if (s === undefined) return [];
    this.conns.delete(conn);
    const lines: string[] = [];
    const total = [...s.protocols.values()].reduce((a, b) => a + b, 0);
    const sessions = s.sessions.size > 0 ? `, session${s.sessions.size > 1 ? 's' : ''} ${[...s.sessions].map((x) => escapeText(x, 40)).join(', ')}` : '';
    lines.push(`   app: ${total} message(s): ${list(s.protocols)}${sessions}`);
    lines.push(`     by kind: ${list(s.kinds)}`);
    if (s.names.size > 0) {
      const names = [...s.names].sort((a, b) => b[1] - a[1]);
      const shown = names.slice(0, SHOWN_NAMES).map(([n, k]) => `${escapeText(n, 40)} ${k}`);
      const rest = names.slice(SHOWN_NAMES).reduce((a, [, k]) => a + k, 0) + s.otherNames;
      lines.push(`     by name: ${shown.join(', ')}${rest > 0 ? `, others ${rest}` : ''}`);
    }
    for (const [key, l] of s.latencies) {
      // The same min/median/max as the heartbeat lines: an even count's median is the mean of the middle two.
      const ms = l.spread();
      if (ms === null) continue;
      const spread = `${fmt(ms.min)}/${fmt(ms.median)}/${fmt(ms.max)} ms (min/median/max)`;
      if (key.startsWith(OWN)) lines.push(`     ${key.slice(OWN.length)} from the requester itself (not an answer) ${l.count} time(s), ${spread} after its request`);
      else lines.push(`     ${key} answered ${l.count} time(s) in ${spread}`);
    }
    return lines;
  }
}

function bump(map: Map<string, number>, key: string): void {
  map.set(key, (map.get(key) ?? 0) + 1);
}

function list(map: Map<string, number>): string {
  return [...map].map(([k, n]) => `${escapeText(k, 60)} ${n}`).join(', ');
}

function fmt(ms: number): string {
  return ms < 10 ? ms.toFixed(3) : ms < 1000 ? ms.toFixed(1) : ms.toFixed(0);
}
