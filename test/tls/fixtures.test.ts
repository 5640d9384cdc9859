/**
 * wss:// captures of real TLS peers (fixtures/tls, made by fixtures/generate): with their key
 * logs, every connection decrypts to exactly the messages its generator recorded, and the tls
 * event says what the peers themselves said they negotiated. Without the key log, or with a
 * wrong one, the connections are named and nothing is made up.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dissectFile, fixtureKeyLog } from '../helpers/dissect.js';
import { comparable, wanted, type ExpectedMessage } from '../helpers/expected.js';

const DIR = 'fixtures/tls';

interface ExpectedTls {
  version: string;
  cipher: string;
  sni: string | null;
  alpn: string | null;
  resumed: boolean;
  earlyData?: string;
}

interface Manifest {
  file: string;
  keylog?: string;
  keylogs?: Record<string, string>;
  connections: {
    kind: 'websocket' | 'tls';
    client: { port: number };
    server: { port: number };
    startedMidConnection?: boolean;
    handshake?: { captured: boolean; path: string; subprotocol: string | null };
    tls: ExpectedTls;
    keyUpdates?: { client: number; server: number };
    messages?: { client: ExpectedMessage[]; server: ExpectedMessage[] };
  }[];
}

const manifests = readdirSync(DIR).filter((f) => f.endsWith('.expected.json')).sort();
const load = (name: string) => JSON.parse(readFileSync(join(DIR, name), 'utf8')) as Manifest;

function connectionEvents(json: Record<string, any>[], c: Manifest['connections'][number]): Record<string, any>[] {
  const open = json.find((e) => e.type === 'connection' && [e.client.port, e.server.port].sort().join() === [c.client.port, c.server.port].sort().join());
  expect(open, `connection from port ${c.client.port}`).toBeDefined();
  return json.filter((e) => e.conn === open!.conn);
}

describe('wss:// captures of real peers, decrypted with their key logs', () => {
  it('covers TLS 1.3 and 1.2, each AEAD, CBC, resumption, 0-RTT, KeyUpdate and five kinds of peer', () => {
    const all = manifests.map(load).flatMap((m) => m.connections.map((c) => c.tls));
    const ciphers = new Set(all.map((t) => t.cipher));
    for (const cipher of ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256', 'TLS_RSA_WITH_AES_256_GCM_SHA384', 'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256', 'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA']) {
      expect(ciphers.has(cipher), cipher).toBe(true);
    }
    expect(all.some((t) => t.resumed && t.version === 'TLS 1.2')).toBe(true);
    expect(all.some((t) => t.earlyData === 'accepted')).toBe(true);
    expect(manifests.length).toBeGreaterThanOrEqual(12);
  });

  it.each(manifests)('%s', async (name) => {
    const spec = load(name);
    const capture = join(DIR, spec.file);
    const keyLog = fixtureKeyLog(capture);
    const { json } = await dissectFile(capture, keyLog ? { keyLog } : {});
    for (const c of spec.connections) {
      const events = connectionEvents(json, c);
      const tls = events.filter((e) => e.type === 'tls');
      expect(tls, 'one tls event').toHaveLength(1);
      if (c.startedMidConnection) {
        expect(tls[0]).toMatchObject({ version: null, decrypted: false, reason: expect.stringMatching(/handshake is not in the capture/) });
        expect(events.filter((e) => e.type === 'frame')).toEqual([]);
        continue;
      }
      expect(tls[0]).toMatchObject({ version: c.tls.version, cipher: c.tls.cipher, sni: c.tls.sni, alpn: c.tls.alpn, resumed: c.tls.resumed, decrypted: true, reason: null });
      if (c.tls.earlyData !== undefined) expect(tls[0]!.earlyData).toBe(c.tls.earlyData);
      // The one capture whose server asked for a second ClientHello (RFC 8446 §4.1.4).
      expect(tls[0]!.helloRetry).toBe(name.startsWith('tls13-aes256gcm-hrr'));
      // Decrypted, nothing in the TLS layer went wrong: it says close_notify, and 0-RTT data the server rejected is skipped.
      const said = events.filter((e) => e.type === 'alert' && e.code.startsWith('tls.') && e.code !== 'tls.close-notify').map((e) => e.code);
      expect(said).toEqual(c.tls.earlyData === 'rejected' ? ['tls.early-data-skipped'] : []);
      if (c.kind !== 'websocket') {
        expect(events.find((e) => e.type === 'end')).toMatchObject({ kind: 'tls' });
        continue;
      }
      expect(events.find((e) => e.type === 'handshake')).toMatchObject({ path: c.handshake!.path, upgraded: true, acceptValid: true });
      for (const from of ['client', 'server'] as const) {
        const want = c.messages?.[from] ?? [];
        const got = events.filter((e) => e.type === 'message' && e.from === from);
        expect(got.map((m, i) => comparable(m, want[i] ?? { type: '?' })), `${from} messages`).toEqual(want.map(wanted));
      }
      // The record around the first frame each way, for the explain view.
      expect(events.filter((e) => e.type === 'tls-record').map((e) => e.from).sort()).toEqual(['client', 'server']);
    }
  });

  it('follows KeyUpdates: the later frames are under keys the key log never held', async () => {
    const capture = join(DIR, 'openssl-keyupdate.pcap');
    const spec = load('openssl-keyupdate.expected.json');
    const { json } = await dissectFile(capture, { keyLog: fixtureKeyLog(capture)! });
    const texts = json.filter((e) => e.type === 'message' && e.opcodeName === 'text');
    expect(texts.map((m) => m.text)).toEqual([...spec.connections[0]!.messages!.client.slice(0, 3).flatMap((m, i) => [m.text, spec.connections[0]!.messages!.server[i]!.text])]);
  });
});

describe('without the right key log', () => {
  it('names every TLS connection, says why it is not decrypted, and shows no frame', async () => {
    for (const name of manifests) {
      const spec = load(name);
      if (spec.file.endsWith('.pcapng')) continue; // the secrets are inside it
      const { json } = await dissectFile(join(DIR, spec.file));
      for (const c of spec.connections) {
        const events = connectionEvents(json, c);
        expect(events.find((e) => e.type === 'end')!.kind, name).toBe('tls');
        const tls = events.find((e) => e.type === 'tls');
        if (c.startedMidConnection) continue;
        expect(tls, name).toMatchObject({ version: c.tls.version, cipher: c.tls.cipher, sni: c.tls.sni, decrypted: false, reason: 'no key log (--keylog FILE)' });
        // TLS 1.3 agrees on ALPN in an encrypted message; TLS 1.2 in the ServerHello.
        expect(tls!.alpn, name).toBe(c.tls.version === 'TLS 1.3' ? null : c.tls.alpn);
      }
      expect(json.filter((e) => e.type === 'frame' || e.type === 'handshake'), name).toEqual([]);
    }
  });

  it('with a key log of other secrets for the same connection: each direction fails once, at its first record', async () => {
    const capture = join(DIR, 'tls13-aes128gcm.pcap');
    const { json } = await dissectFile(capture, { keyLog: fixtureKeyLog(capture, '.wrong')! });
    const tls = json.find((e) => e.type === 'tls')!;
    expect(tls).toMatchObject({ decrypted: false, reason: expect.stringMatching(/do not decrypt with the key log/) });
    const failures = [...tls.alerts, ...json.filter((e) => e.type === 'alert')].filter((a) => a.code === 'tls.decrypt-failed');
    expect(failures.map((a) => [a.from, typeof a.packet])).toEqual([
      ['server', 'number'],
      ['client', 'number'],
    ]);
    expect(json.filter((e) => e.type === 'frame')).toEqual([]);
  });

  it('a capture that starts inside a record (no SYN, no ClientHello) is still named TLS, with nothing else made up', async () => {
    const file = readFileSync(join(DIR, 'tls13-aes128gcm.pcap'));
    // Packet 13 carries the end of a 16 KiB record of the client's 40000-byte message: keep it and what follows.
    const records: Buffer[] = [];
    for (let at = 24; at + 16 <= file.length; at += 16 + file.readUInt32LE(at + 8)) records.push(file.subarray(at, at + 16 + file.readUInt32LE(at + 8)));
    const dir = mkdtempSync(join(tmpdir(), 'wsdump-tls-'));
    const late = join(dir, 'late.pcap');
    writeFileSync(late, Buffer.concat([file.subarray(0, 24), ...records.slice(12)]));
    const { json } = await dissectFile(late, { keyLog: fixtureKeyLog(join(DIR, 'tls13-aes128gcm.pcap'))! }).finally(() => rmSync(dir, { recursive: true, force: true }));
    expect(json.filter((e) => e.type === 'tls')).toEqual([expect.objectContaining({ version: null, decrypted: false, reason: 'the handshake is not in the capture (the connection began before it)', packet: 1 })]);
    expect(json.filter((e) => e.type === 'alert' || e.type === 'other' || e.type === 'frame')).toEqual([]);
    expect(json.find((e) => e.type === 'end')).toMatchObject({ kind: 'tls' });
  });

  it('with a key log for other sessions: no key for this one', async () => {
    const capture = join(DIR, 'tls13-aes128gcm.pcap');
    const { json } = await dissectFile(capture, { keyLog: fixtureKeyLog(join(DIR, 'python-tls13.pcap'))! });
    expect(json.find((e) => e.type === 'tls')).toMatchObject({ decrypted: false, reason: expect.stringMatching(/^no key for this session in the key log \(client random [0-9a-f]{16}…\)$/) });
  });
});
