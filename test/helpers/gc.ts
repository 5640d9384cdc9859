import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A real full GC: global.gc under --expose-gc, else the same function obtained through V8's flags. */
export const gc: () => void = (() => {
  const existing = (globalThis as { gc?: () => void }).gc;
  if (typeof existing === 'function') return existing;
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

/**
 * Whether what `ref` points at has been collected, after full collections. A WeakRef's target
 * is kept until the job that made it ends, hence the waits between collections.
 */
export async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 3 && ref.deref() !== undefined; i++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
    gc();
  }
  return ref.deref() === undefined;
}
