/**
 * Decoder modules are loaded the first time a connection needs one, so a capture of plain
 * WebSocket traffic pays nothing for Socket.IO or MessagePack. Decoding is synchronous, so a
 * module is required (Node's require of an ES module: Node 20.19, 22.12 and later) rather than
 * imported. Where that cannot work (an older Node 20, or the TypeScript sources under the test
 * runner), `preloadDecoders()` imports them all first, and the loader finds them there.
 */
import { createRequire } from 'node:module';

const loaded = new Map<string, unknown>();
const importers = new Map<string, () => Promise<unknown>>();

/**
 * A function that gives the module `file` (relative to this folder, as built), loading it on
 * first use. `importer` is the same module as a dynamic import, for preloadDecoders().
 */
export function decoderModule<T>(file: string, importer: () => Promise<T>): () => T {
  importers.set(file, importer);
  return () => {
    let module = loaded.get(file);
    if (module === undefined) {
      module = createRequire(import.meta.url)(file);
      loaded.set(file, module);
    }
    return module as T;
  };
}

/** Can this Node require ES modules? (`process.features.require_module`, Node 20.19 and later.) */
export function canRequireModules(): boolean {
  return (process.features as { require_module?: boolean }).require_module === true;
}

/** Imports every decoder module now (for where they cannot be required on first use). */
export async function preloadDecoders(): Promise<void> {
  for (const [file, importer] of importers) if (!loaded.has(file)) loaded.set(file, await importer());
}

/** Which decoder modules are loaded (for tests of what a run loads). */
export function loadedDecoders(): string[] {
  return [...loaded.keys()];
}
