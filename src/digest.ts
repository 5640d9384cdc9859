/**
 * One-shot hashing. crypto.hash (Node 20.12+) is one call instead of a Hash object per input,
 * which showed in the profiles: SHA-256 per binary message in `wsdump --json`, SHA-1 per
 * handshake on captures of many connections. Older Node versions get a Hash object.
 */
import crypto from 'node:crypto';

export const digest: (algorithm: 'sha1' | 'sha256', data: Uint8Array, encoding: 'hex' | 'base64') => string =
  typeof crypto.hash === 'function'
    ? (algorithm, data, encoding) => crypto.hash(algorithm, data, encoding)
    : (algorithm, data, encoding) => crypto.createHash(algorithm).update(data).digest(encoding);
