/**
 * Golden NDJSON: `wsdump --json` of every real and shared capture, kept in fixtures/golden.
 * The values are checked against tshark and against what the peers sent elsewhere
 * (test/interop); this test guards every other field (offsets, alerts, sizes, order) against
 * silent change. After an intended change: UPDATE_GOLDEN=1 npx vitest run test/golden.test.ts,
 * then review the diff of fixtures/golden before committing.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventToNdjson } from '../src/render/ndjson-encoder.js';
import { dissect } from '../src/engine/dissect.js';
import { fixtureKeyLog } from './helpers/dissect.js';

// fixtures/tls: decrypted with the key log beside each capture (NAME.keys).
const DIRS = ['fixtures/real', 'fixtures/shared', 'fixtures/tls'];
const GOLDEN = 'fixtures/golden';

const captures = DIRS.flatMap((dir) => readdirSync(dir).filter((f) => /\.(pcap|pcapng)$/.test(f)).map((f) => join(dir, f)));

function goldenPath(capture: string): string {
  return join(GOLDEN, `${basename(dirname(capture))}-${basename(capture)}.ndjson`);
}

/** The --decode-as ports a capture's generator manifest asks for (captures started mid-connection). */
function decodeAs(capture: string): number[] {
  const manifest = capture.replace(/\.(pcap|pcapng)$/, '.expected.json');
  if (!existsSync(manifest)) return [];
  const spec = JSON.parse(readFileSync(manifest, 'utf8')) as { connections: { handshake?: { captured?: boolean }; server: { port: number } }[] };
  // (a TLS connection seen mid-stream has no handshake entry: nothing to decode it as)
  return spec.connections.filter((c) => c.handshake?.captured === false).map((c) => c.server.port);
}

describe('golden NDJSON', () => {
  it.each(captures)('%s', async (capture) => {
    let text = '';
    const keyLog = fixtureKeyLog(capture);
    for await (const event of dissect(capture, { decodeAs: decodeAs(capture), ...(keyLog ? { keyLog } : {}) })) text += eventToNdjson(event);
    const path = goldenPath(capture);
    if (process.env.UPDATE_GOLDEN) {
      mkdirSync(GOLDEN, { recursive: true });
      writeFileSync(path, text);
    }
    expect(existsSync(path), `${path} is missing: run with UPDATE_GOLDEN=1`).toBe(true);
    const golden = readFileSync(path, 'utf8');
    // Compare line by line so a failure names the first differing event.
    const ours = text.split('\n');
    const theirs = golden.split('\n');
    for (let i = 0; i < Math.max(ours.length, theirs.length); i++) expect(ours[i], `line ${i + 1} of ${path}`).toBe(theirs[i]);
  });
});
