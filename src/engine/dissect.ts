import { openCapture, type OpenCaptureOptions } from '../capture/index.js';
import { canRequireModules, preloadDecoders } from '../app/load.js';
import { CaptureDissector, type CaptureDissectorOptions } from './capture-dissector.js';
import type { DissectEvent } from './events.js';

/**
 * Dissect a whole capture (a path, or a readable stream such as process.stdin): the events in
 * capture order, produced as the bytes are read. Throws CaptureFormatError for unusable input.
 */
export async function* dissect(source: string | NodeJS.ReadableStream, options: CaptureDissectorOptions & OpenCaptureOptions = {}): AsyncGenerator<DissectEvent> {
  const capture = await openCapture(source, options.name !== undefined ? { name: options.name } : {});
  // Decoders are required when first needed; where Node cannot require ES modules, load them now.
  if (options.app !== false && options.app?.app !== 'none' && !canRequireModules()) await preloadDecoders();
  const dissector = new CaptureDissector(options);
  for await (const batch of capture.batches) {
    for (const item of batch) yield* dissector.item(item);
    // A TLS connection appeared: its layer is loaded on first use, then what waited is decoded.
    if (dissector.waiting) yield* await dissector.resume();
  }
  for (const events of dissector.finishing()) yield* events;
}
