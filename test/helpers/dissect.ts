import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaptureDissectorOptions } from '../../src/engine/capture-dissector.js';
import { dissect } from '../../src/engine/dissect.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { eventToJson } from '../../src/render/json.js';
import { KeyLog } from '../../src/tls/keylog.js';

/** Every capture bundled in fixtures/real, fixtures/shared and fixtures/crafted. */
export const FIXTURE_CAPTURES: readonly string[] = ['fixtures/real', 'fixtures/shared', 'fixtures/crafted'].flatMap((dir) =>
  readdirSync(dir)
    .filter((f) => /\.(pcap|pcapng)(\.gz)?$/.test(f))
    .map((f) => join(dir, f)),
);

/** Dissect a capture file in-process: its events, in order. */
export async function dissectEvents(path: string, options: CaptureDissectorOptions = {}): Promise<DissectEvent[]> {
  const events: DissectEvent[] = [];
  for await (const event of dissect(path, options)) events.push(event);
  return events;
}

/** Dissect a capture file in-process: the events, and the same events as wsdump --json shows them. */
export async function dissectFile(path: string, options: CaptureDissectorOptions = {}): Promise<{ events: DissectEvent[]; json: Record<string, any>[] }> {
  const events = await dissectEvents(path, options);
  return { events, json: events.map((e) => eventToJson(e, { maxHexBytes: Infinity })) };
}

/** The key log beside a capture of fixtures/tls (NAME.keys), or another one of its (NAME.wrong.keys …). */
export function fixtureKeyLog(capture: string, variant = ''): KeyLog | undefined {
  const path = capture.replace(/\.(pcap|pcapng)$/, `${variant}.keys`);
  if (!existsSync(path)) return undefined;
  const keyLog = new KeyLog();
  keyLog.add(readFileSync(path));
  return keyLog;
}
