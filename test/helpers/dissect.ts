import type { CaptureDissectorOptions } from '../../src/engine/capture-dissector.js';
import { dissect } from '../../src/engine/dissect.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { eventToJson } from '../../src/render/json.js';

/** Dissect a capture file in-process: the events, and the same events as wsdump --json shows them. */
export async function dissectFile(path: string, options: CaptureDissectorOptions = {}): Promise<{ events: DissectEvent[]; json: Record<string, any>[] }> {
  const events: DissectEvent[] = [];
  for await (const event of dissect(path, options)) events.push(event);
  return { events, json: events.map((e) => eventToJson(e, { maxHexBytes: Infinity })) };
}
