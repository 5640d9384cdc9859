/**
 * The application layer against real peers: each fixtures/real capture whose manifest has an
 * `app` section (written by its generator while it drove the real libraries) must decode to
 * exactly the application messages the peers sent through their libraries' APIs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { dissectFile } from '../helpers/dissect.js';

interface ExpectedSocketIoEvent {
  kind: string;
  nsp: string;
  event?: string;
  args?: unknown[];
  ack?: boolean;
  attachments?: number;
}

interface AppManifest {
  protocol: string;
  [key: string]: unknown;
}

interface Manifest {
  file: string;
  connections: { client: { port: number }; server: { port: number }; app?: AppManifest }[];
}

const DIR = 'fixtures/real';
const manifests = readdirSync(DIR)
  .filter((f) => f.endsWith('.expected.json'))
  .map((f) => ({ name: f, spec: JSON.parse(readFileSync(`${DIR}/${f}`, 'utf8')) as Manifest }))
  .filter((m) => m.spec.connections.some((c) => c.app !== undefined));

/** Our NDJSON values in the generators' terms: bytes { length, hex } become { $binary: hex }. */
function generatorTerms(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(generatorTerms);
  if (value !== null && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    if (Object.keys(o).length === 2 && typeof o.length === 'number' && typeof o.hex === 'string') return { $binary: o.hex };
    return Object.fromEntries(Object.entries(o).map(([k, v]) => [k, generatorTerms(v)]));
  }
  return value;
}

type Json = Record<string, any>;

async function appEvents(file: string, port: number): Promise<Json[]> {
  const { json } = await dissectFile(`${DIR}/${file}`);
  const conn = json.find((e) => e.type === 'connection' && e.client.port === port)?.conn;
  expect(conn, `the connection from port ${port}`).toBeDefined();
  return json.filter((e) => e.type === 'app' && e.conn === conn);
}

function checkSocketIo(events: Json[], app: AppManifest): void {
  const open = events.find((e) => e.protocol === 'engine.io' && e.kind === 'open');
  expect(open).toMatchObject({ from: 'server', session: app.sid, data: { sid: app.sid, pingInterval: app.pingInterval, pingTimeout: app.pingTimeout } });
  expect(events.every((e) => e.session === app.sid)).toBe(true);
  expect(events.flatMap((e) => e.alerts)).toEqual([]);
  for (const from of ['client', 'server'] as const) {
    const want = (app.events as Record<string, ExpectedSocketIoEvent[]>)[from]!;
    const got = events.filter((e) => e.protocol === 'socket.io' && e.from === from);
    const shape = (e: Json) => ({ kind: e.kind, nsp: e.nsp, ...(e.kind === 'event' ? { event: e.event } : {}), ...(e.args !== undefined && e.kind !== 'connect' ? { args: generatorTerms(e.args) } : {}) });
    const wanted = (w: ExpectedSocketIoEvent) => ({ kind: w.kind, nsp: w.nsp, ...(w.event !== undefined ? { event: w.event } : {}), ...(w.args !== undefined ? { args: w.args } : {}) });
    expect(got.map(shape), `${from} events`).toEqual(want.map(wanted));
    got.forEach((e, i) => {
      const w = want[i]!;
      if (w.kind === 'event') expect(e.ackId !== null, `${from} event ${i} asks for an ack`).toBe(w.ack === true);
      if (w.attachments !== undefined) expect(e.attachments).toBe(w.attachments);
    });
  }
  // Every ack and every CONNECT answer points back at its request, with a latency.
  for (const answer of events.filter((e) => e.kind === 'ack' || (e.from === 'server' && (e.kind === 'connect' || e.kind === 'connect_error')))) {
    const request = events.find((e) => e.packet === answer.replyTo && e.from !== answer.from);
    expect(request, `the request of ${answer.summary}`).toBeDefined();
    if (answer.kind === 'ack') expect(request).toMatchObject({ kind: 'event', ackId: answer.ackId, nsp: answer.nsp });
    expect(answer.latencyMs).toBeGreaterThanOrEqual(0);
  }
  const pings = events.filter((e) => e.protocol === 'engine.io' && e.kind === 'ping' && e.data === '');
  const pongs = events.filter((e) => e.protocol === 'engine.io' && e.kind === 'pong' && e.data === '');
  expect(pings.length).toBe(app.pings);
  expect(pongs.map((p) => p.replyTo)).toEqual(pings.map((p) => p.packet));
}

describe('application messages match what the real peers sent', () => {
  it('has manifests to check', () => {
    expect(manifests.map((m) => m.name)).toContain('socketio-node.expected.json');
  });

  it.each(manifests)('$name', async ({ spec }) => {
    for (const c of spec.connections) {
      if (c.app === undefined) continue;
      expect(existsSync(`${DIR}/${spec.file}`)).toBe(true);
      const events = await appEvents(spec.file, c.client.port);
      if (c.app.protocol === 'socket.io') checkSocketIo(events, c.app);
      else throw new Error(`no check for ${c.app.protocol}`);
    }
  });
});
