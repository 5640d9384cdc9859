/**
 * node:zlib, loaded on first use: only gzipped captures and compressed connections without
 * context takeover need it. Imported at start, it cost `wsdump --json` on a small capture ~2M
 * of its 766M instructions (callgrind, node --predictable): little, but nothing for nothing.
 */
import { createRequire } from 'node:module';

let zlib: typeof import('node:zlib') | undefined;

export function loadZlib(): typeof import('node:zlib') {
  zlib ??= createRequire(import.meta.url)('node:zlib') as typeof import('node:zlib');
  return zlib;
}
