/**
 * The `app` event as NDJSON (docs/json.md): the shared keys first, in their documented order,
 * then the protocol's own fields. Bytes inside values are `{ "length", "hex" }`, the hex
 * capped like payloads (--payload, --full).
 */
import type { AppEvent } from '../app/types.js';
import { valueToJson } from '../app/values.js';
import { alertJson } from './json.js';

export function appEventJson(e: AppEvent, maxHex: number): Record<string, unknown> {
  const out: Record<string, unknown> = {
    type: 'app',
    conn: e.conn,
    from: e.direction,
    packet: e.at.packet ?? null,
    ts: e.at.ts ?? null,
    transport: e.transport,
    protocol: e.protocol,
    kind: e.kind,
    session: e.session,
    summary: e.summary,
    replyTo: e.replyTo,
    latencyMs: e.latencyMs,
    alerts: e.alerts.map((a) => alertJson(a, e.conn)),
  };
  for (const key of Object.keys(e.fields)) if (!(key in out)) out[key] = valueToJson(e.fields[key]!, maxHex);
  return out;
}
