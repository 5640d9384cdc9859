/**
 * The `app` event as NDJSON (docs/json.md): the shared keys first, in their documented order,
 * then the protocol's own fields (renamed when they would replace a shared key: see ownKey). Bytes inside values are `{ "length", "hex" }`, the hex
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
    heartbeat: e.heartbeat,
    alerts: e.alerts.map((a) => alertJson(a, e.conn)),
  };
  for (const key of Object.keys(e.fields)) out[Object.hasOwn(out, key) ? ownKey(out, e.fields, key) : key] = valueToJson(e.fields[key]!, maxHex);
  return out;
}

/**
 * A protocol field never replaces a shared key: one named like a shared key (a protocol's own
 * `session`, `type` …) is written with an underscore in front, as many as it takes to name
 * neither a shared key nor another of its fields (which keep their names).
 */
function ownKey(out: Record<string, unknown>, fields: Record<string, unknown>, key: string): string {
  let name = `_${key}`;
  while (Object.hasOwn(out, name) || Object.hasOwn(fields, name)) name = `_${name}`;
  return name;
}
