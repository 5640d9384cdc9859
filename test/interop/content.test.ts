/**
 * Content test: the messages each real-peer generator sent (fixtures/real/NAME.expected.json,
 * written by fixtures/generate while it drove the peers) are exactly the messages wsdump
 * reassembles and inflates from the capture, in order, per connection and direction.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dissectFile } from '../helpers/dissect.js';
import { comparable, wanted, type ExpectedMessage } from '../helpers/expected.js';

interface ExpectedConnection {
  kind: 'websocket' | 'http';
  client: { port: number };
  server: { port: number };
  handshake?: { captured: boolean; path: string; subprotocol: string | null; refused?: boolean; status?: number };
  http?: { path: string; status: number };
  /** Every request of an http connection, in order (a keep-alive connection carries several). */
  requests?: { method: string; path: string; status: number }[];
  /** The plain requests a connection carried before its upgrade. */
  requestsBefore?: { method: string; path: string; status: number }[];
  messages?: { client: ExpectedMessage[]; server: ExpectedMessage[] };
}

/** Captures whose content cannot all be recovered, with the reason (what is recovered is tested elsewhere). */
const PARTIAL: Record<string, string> = {
  'snaplen-96.expected.json': 'packets are cut at 96 bytes: most payloads are not in the capture',
};

const DIR = 'fixtures/real';
const manifests = readdirSync(DIR).filter((f) => f.endsWith('.expected.json') && !PARTIAL[f]).sort();

describe('messages match what the real peers sent', () => {
  it('has manifests to check', () => {
    expect(manifests.length).toBeGreaterThan(5);
  });

  it.each(manifests)('%s', async (manifest) => {
    const spec = JSON.parse(readFileSync(`${DIR}/${manifest}`, 'utf8')) as { file: string; connections: ExpectedConnection[] };
    const decodeAs = spec.connections.filter((c) => c.handshake?.captured === false).map((c) => c.server.port);
    const { json } = await dissectFile(`${DIR}/${spec.file}`, { decodeAs });
    for (const expected of spec.connections) {
      const conn = json.find((e) => e.type === 'connection' && e.client.port === expected.client.port && e.server.port === expected.server.port)?.conn;
      expect(conn, `connection from port ${expected.client.port}`).toBeDefined();
      const events = json.filter((e) => e.conn === conn);
      const handshake = events.find((e) => e.type === 'handshake');
      const requests = events.filter((e) => e.type === 'other' && e.kind === 'http').map((e) => [e.requestLine, e.status]);
      const asSent = (list: { method: string; path: string; status: number }[]) => list.map((r) => [`${r.method} ${r.path} HTTP/1.1`, r.status]);
      if (expected.kind === 'http') {
        expect(events.find((e) => e.type === 'other')).toMatchObject({ kind: 'http', requestLine: `GET ${expected.http!.path} HTTP/1.1` });
        if (expected.requests !== undefined) expect(requests).toEqual(asSent(expected.requests));
        continue;
      }
      expect(requests, 'plain requests before the upgrade').toEqual(asSent(expected.requestsBefore ?? []));
      if (expected.handshake?.captured) {
        expect(handshake).toMatchObject({ path: expected.handshake.path, subprotocol: expected.handshake.subprotocol, status: expected.handshake.status ?? 101, upgraded: !expected.handshake.refused });
        if (!expected.handshake.refused) expect(handshake!.acceptValid).toBe(true);
      }
      for (const from of ['client', 'server'] as const) {
        const want = expected.messages?.[from] ?? [];
        const got = events.filter((e) => e.type === 'message' && e.from === from);
        expect(got.map((m, i) => comparable(m, want[i] ?? { type: '?' })), `${from} messages`).toEqual(want.map(wanted));
      }
    }
  });
});
