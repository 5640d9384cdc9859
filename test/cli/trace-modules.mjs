// `node --import ./test/cli/trace-modules.mjs …` writes the URL of every module the program
// loads to stderr, one per line, prefixed with "load ". The same file is the hook: it
// registers itself from the main thread, and Node runs its `load` on the hooks thread for
// ES modules. CommonJS modules (pako, required lazily) are listed from the require cache at exit.
import { writeSync } from 'node:fs';
import { createRequire, register } from 'node:module';
import { pathToFileURL } from 'node:url';
import { isMainThread } from 'node:worker_threads';

if (isMainThread) {
  register(import.meta.url);
  const require = createRequire(import.meta.url);
  process.on('exit', () => {
    for (const path of Object.keys(require.cache)) writeSync(2, `load ${pathToFileURL(path).href}\n`);
  });
}

export async function load(url, context, next) {
  writeSync(2, `load ${url}\n`);
  return next(url, context);
}
