import { openCapture } from '../../src/capture/index.js';
import { CaptureDissector, type CaptureDissectorOptions } from '../../src/engine/capture-dissector.js';
import type { DissectEvent } from '../../src/engine/events.js';
import { eventToJson } from '../../src/render/json.js';

/** Dissect a capture file in-process: the events, and the same events as wsdump --json shows them. */
export async function dissectFile(path: string, options: CaptureDissectorOptions = {}): Promise<{ events: DissectEvent[]; json: Record<string, any>[] }> {
  const capture = await openCapture(path);
  const dissector = new CaptureDissector(options);
  const events: DissectEvent[] = [];
  for await (const item of capture.items) events.push(...dissector.item(item));
  events.push(...dissector.finish());
  return { events, json: events.map((e) => eventToJson(e, { maxHexBytes: Infinity })) };
}
