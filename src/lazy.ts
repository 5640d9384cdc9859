/**
 * Modules required on first use rather than imported at start, for what only some captures
 * need. Synchronous (a CommonJS require), since decoding is.
 */
import { createRequire } from 'node:module';

/** A function that requires `id` the first time it is called and returns it from then on. */
export function onFirstUse<T>(id: string): () => T {
  let loaded: T | undefined;
  return () => (loaded ??= createRequire(import.meta.url)(id) as T);
}

/**
 * node:zlib: only gzipped captures and compressed connections without context takeover need
 * it. Imported at start, it cost `wsdump --json` on a small capture ~2M of its 766M
 * instructions (callgrind, node --predictable): little, but nothing for nothing.
 */
export const loadZlib = onFirstUse<typeof import('node:zlib')>('node:zlib');
