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

/** The `end` event of the connection from `port`: its appHeartbeat counts the protocol's heartbeats. */
async function endOf(file: string, port: number): Promise<Json> {
  const { json } = await dissectFile(`${DIR}/${file}`);
  const conn = json.find((e) => e.type === 'connection' && e.client.port === port)?.conn;
  return json.find((e) => e.type === 'end' && e.conn === conn)!;
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

interface ExpectedGraphQlOperation {
  id: string;
  operationName: string | null;
  query: string;
  variables: unknown;
  document: { operationType: string; name: string | null };
  results: unknown[];
  errors: unknown[] | null;
  endedBy: 'client' | 'server';
}

function checkGraphQl(events: Json[], app: AppManifest, end: Json): void {
  const legacy = app.variant === 'graphql-ws';
  expect(events.every((e) => e.protocol === 'graphql-ws' && e.variant === app.variant)).toBe(true);
  expect(events.flatMap((e) => e.alerts)).toEqual([]);
  const init = events[0]!;
  expect(init).toMatchObject({ from: 'client', kind: 'connection_init', payload: app.connectionParams });
  expect(events.find((e) => e.kind === 'connection_ack')).toMatchObject({ from: 'server', replyTo: init.packet });
  const [start, data, stop] = legacy ? ['start', 'data', 'stop'] : ['subscribe', 'next', 'complete'];
  const operations = app.operations as ExpectedGraphQlOperation[];
  expect(events.filter((e) => e.kind === start).map((e) => e.id)).toEqual(operations.map((o) => o.id));
  for (const op of operations) {
    const subscribe = events.find((e) => e.kind === start && e.id === op.id)!;
    expect(subscribe).toMatchObject({ from: 'client', query: op.query, variables: op.variables, operationName: op.operationName ?? op.document.name, operationType: op.document.operationType });
    const answers = events.filter((e) => e.from === 'server' && e.id === op.id);
    // Every answer points back at the subscribe, named as it is.
    for (const a of answers) expect(a, a.summary).toMatchObject({ replyTo: a.replyTo === null ? null : subscribe.packet, operationName: subscribe.operationName });
    const results = answers.filter((e) => e.kind === data).map((e) => e.payload);
    if (op.endedBy === 'client') {
      const ended = events.find((e) => e.from === 'client' && e.kind === stop && e.id === op.id)!;
      expect(ended.replyTo).toBe(subscribe.packet);
      // What was in flight when the client stopped still arrives: the client saw a prefix.
      expect(results.slice(0, op.results.length)).toEqual(op.results);
      expect(answers.filter((e) => e.packet < ended.packet).every((e) => e.replyTo === subscribe.packet)).toBe(true);
    } else {
      expect(results).toEqual(op.results);
      expect(answers.every((e) => e.replyTo === subscribe.packet && e.latencyMs >= 0)).toBe(true);
      const last = answers.at(-1)!;
      if (op.errors !== null) expect(last).toMatchObject({ kind: 'error', payload: op.errors });
      else expect(last.kind).toBe('complete');
    }
  }
  if (legacy) {
    expect(events.filter((e) => e.kind === 'ka').length).toBe(app.keepAlives);
    // ka asks for no answer: a one-way heartbeat of the server's.
    expect(end.appHeartbeat).toMatchObject({ protocol: 'graphql-ws', client: null, server: { pings: 0, unsolicitedPongs: app.keepAlives } });
  } else {
    expect(end.appHeartbeat).toMatchObject({ protocol: 'graphql-ws', client: { pings: app.pings, pongs: app.pings, unanswered: 0 }, server: null });
    const pings = events.filter((e) => e.kind === 'ping' && e.from === 'client');
    expect(pings.length).toBe(app.pings);
    expect(events.filter((e) => e.kind === 'pong').map((e) => e.replyTo)).toEqual(pings.map((p) => p.packet));
  }
}

interface SignalRCall {
  method: 'invoke' | 'send' | 'stream';
  target: string;
  arguments: unknown[];
  result?: unknown;
  error?: string;
  items?: unknown[];
  cancelled?: boolean;
}

/** A decoded SignalR event in the terms the hub server of the generator logs its messages. */
function hubTerms(e: Json): Json {
  if (e.kind === 'handshake') return { handshake: e.from === 'client' ? { protocol: e.hubProtocol, version: e.version } : e.error !== null ? { error: e.error } : {} };
  const out: Json = { type: e.messageType };
  for (const k of ['invocationId', 'target', 'arguments', 'streamIds', 'item', 'error', 'allowReconnect', 'sequenceId']) if (e[k] !== undefined && e[k] !== null) out[k] = e[k];
  if ('result' in e) out.result = e.result;
  return generatorTerms(out) as Json;
}

function checkSignalR(events: Json[], app: AppManifest, end: Json): void {
  expect(events.every((e) => e.protocol === 'signalr' && e.session === app.session)).toBe(true);
  expect(events.filter((e) => e.kind !== 'handshake').every((e) => e.encoding === app.encoding)).toBe(true);
  expect(events.flatMap((e) => e.alerts)).toEqual([]);
  // Every hub message the server sent and received, in order, as its own code read them.
  const hub = app.hub as { client: Json[]; server: Json[] };
  for (const from of ['client', 'server'] as const) expect(events.filter((e) => e.from === from).map(hubTerms), `${from} messages`).toEqual(hub[from]);
  // Pings ask for no answer: each side's are one-way heartbeats ("Ping (aka Keep Alive)").
  for (const from of ['client', 'server'] as const) expect(end.appHeartbeat[from], `${from} pings`).toMatchObject({ pings: 0, unsolicitedPongs: hub[from].filter((m) => m.type === 6).length });
  expect(events.find((e) => e.kind === 'handshake' && e.from === 'server')!.replyTo).toBe(events[0]!.packet);
  // What the client did through the API, and what it got back.
  const calls = app.calls as SignalRCall[];
  const invocations = events.filter((e) => e.from === 'client' && (e.kind === 'invocation' || e.kind === 'stream_invocation'));
  expect(invocations.map((e) => ({ target: e.target, arguments: generatorTerms(e.arguments) }))).toEqual(calls.map((c) => ({ target: c.target, arguments: c.arguments })));
  calls.forEach((call, i) => {
    const invocation = invocations[i]!;
    expect(invocation.kind).toBe(call.method === 'stream' ? 'stream_invocation' : 'invocation');
    if (call.method === 'send') return expect(invocation.invocationId).toBeNull();
    const answers = events.filter((e) => e.from === 'server' && e.invocationId === invocation.invocationId);
    expect(answers.every((a) => a.replyTo === invocation.packet && a.target === undefined && a.latencyMs >= 0)).toBe(true);
    const completion = answers.at(-1)!;
    expect(completion.kind).toBe('completion');
    if (call.method === 'invoke') {
      expect(answers).toHaveLength(1);
      if (call.error !== undefined) expect(completion.error).toBe(call.error);
      else if (call.result !== undefined) expect(generatorTerms(completion.result)).toEqual(call.result);
      else expect('result' in completion).toBe(false);
    } else {
      const items = answers.filter((a) => a.kind === 'stream_item').map((a) => a.item);
      expect(call.cancelled ? items.slice(0, call.items!.length) : items).toEqual(call.items);
      if (call.cancelled) expect(events.find((e) => e.from === 'client' && e.kind === 'cancel_invocation' && e.invocationId === invocation.invocationId)).toBeDefined();
    }
    // An upload stream's items and completion come from the client and point at its invocation.
    for (const streamId of invocation.streamIds ?? []) {
      const sent = events.filter((e) => e.from === 'client' && e.invocationId === streamId);
      expect(sent.map((e) => e.kind).at(-1)).toBe('completion');
      expect(sent.every((e) => e.replyTo === invocation.packet)).toBe(true);
    }
  });
  for (const m of app.clientMethods as { target: string; returned: unknown }[]) {
    const asked = events.find((e) => e.from === 'server' && e.kind === 'invocation' && e.target === m.target)!;
    expect(asked.invocationId).not.toBeNull();
    expect(events.find((e) => e.from === 'client' && e.kind === 'completion' && e.invocationId === asked.invocationId)).toMatchObject({ result: m.returned, replyTo: asked.packet });
  }
  if (app.received !== undefined) {
    const sent = events.filter((e) => e.from === 'server' && e.kind === 'invocation' && e.invocationId === null);
    expect(sent.map((e) => ({ target: e.target, arguments: e.arguments }))).toEqual(app.received);
  }
  if (app.serverClose !== undefined) {
    const close = app.serverClose as Json;
    expect(events.at(-1)).toMatchObject({ from: 'server', kind: 'close', error: close.error, allowReconnect: close.allowReconnect });
    expect(String(app.closeError)).toContain(close.error);
  }
}

/**
 * MQTT 5.0 properties in MQTT.js's terms (mqtt-packet): our `userProperty` pairs become its
 * `userProperties` object (a repeated name: an array of values), bytes `{ $binary }`; its
 * booleans (payloadFormatIndicator, requestProblemInformation …) are the byte 1 or 0 on the wire,
 * and a lone subscription identifier is a number.
 */
function mqttJsProperties(ours: Json | null | undefined): Json | undefined {
  if (ours === null || ours === undefined) return undefined;
  const out: Json = {};
  for (const [key, value] of Object.entries(generatorTerms(ours) as Json)) {
    // Subscription identifiers may repeat in a PUBLISH (5.0 §3.3.2.3.8): MQTT.js gives a lone one as a number.
    if (key === 'subscriptionIdentifier') out[key] = (value as number[]).length === 1 ? (value as number[])[0] : value;
    else if (key !== 'userProperty') out[key] = value;
    else for (const [name, v] of value as [string, string][]) out.userProperties = { ...out.userProperties, [name]: out.userProperties?.[name] === undefined ? v : [out.userProperties[name]].flat().concat(v) };
  }
  return out;
}
const onWire = (properties: Json | undefined): Json | undefined => properties && Object.fromEntries(Object.entries(properties).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]));

/**
 * MQTT: every control packet MQTT.js wrote and read, in order, with its fields
 * (fixtures/generate/scenarios/mqtt-aedes.mjs; for 5.0 with properties and reason codes,
 * scenarios/mqtt5-mosquitto.mjs).
 */
function checkMqtt(events: Json[], app: AppManifest): void {
  const packets = app.packets as Record<'client' | 'server', Json[]>;
  const connect = app.connect as Json;
  const VERSIONS: Record<string, string> = { '3.1.1': '3.1.1', '5.0': '5.0' };
  const v5 = app.version === '5.0';
  const first = events[0]!;
  expect(first).toMatchObject({ from: 'client', kind: 'connect', clientId: connect.clientId, keepAlive: connect.keepAlive, version: VERSIONS[app.version as string] });
  const will = first.will === null ? null : { ...first.will, payload: first.will.payload, ...(first.will.properties ? { properties: mqttJsProperties(first.will.properties) } : {}) };
  expect(will).toEqual(connect.will === undefined || connect.will === null ? null : connect.will.properties ? { ...connect.will, properties: onWire(connect.will.properties) } : connect.will);
  if (connect.properties) expect(mqttJsProperties(first.properties)).toEqual(onWire(connect.properties));
  // 5.0 §3.4.2.1 …: an acknowledgement may leave out reason code 0 (MQTT.js then reports none).
  const ACKS = ['puback', 'pubrec', 'pubrel', 'pubcomp', 'disconnect'];
  // A PUBLISH by topic alias (5.0 §3.3.2.3.4) comes with an empty topic: we name it by its alias.
  const aliases = new Map<string, string>();
  const aliased = (from: string, p: Json): string => {
    const alias = p.properties?.topicAlias;
    if (alias === undefined) return p.topic;
    if (p.topic !== '') aliases.set(`${from} ${alias}`, p.topic);
    return aliases.get(`${from} ${alias}`) ?? p.topic;
  };
  // What each packet says, in the generator's terms (MQTT.js names: cmd, messageId, granted …).
  const ours = (e: Json): Json => {
    const out: Json = { cmd: e.kind };
    if (e.kind === 'publish') Object.assign(out, { topic: e.topic, qos: e.qos, retain: e.retain, dup: e.dup, payload: e.text ?? generatorTerms(e.payload) });
    if (e.packetId !== undefined && e.packetId !== null) out.messageId = e.packetId;
    if (e.kind === 'subscribe') out.subscriptions = e.subscriptions.map((x: Json) => ({ topic: x.topic, qos: x.qos, ...(v5 ? { nl: x.noLocal, rap: x.retainAsPublished, rh: x.retainHandling } : {}) }));
    if (e.kind === 'unsubscribe') out.unsubscriptions = e.topics;
    if (e.kind === 'suback' || (v5 && e.kind === 'unsuback')) out.granted = e.codes;
    if (e.kind === 'connack') Object.assign(out, { returnCode: e.returnCode, sessionPresent: e.sessionPresent });
    if (v5 && ACKS.includes(e.kind)) out.reasonCode = e.reasonCode;
    if (v5 && e.properties !== null && Object.keys(e.properties).length > 0) out.properties = mqttJsProperties(e.properties);
    return out;
  };
  const theirs = (from: string) => (p: Json): Json => {
    const out: Json = { cmd: p.cmd };
    if (p.cmd === 'publish') Object.assign(out, { topic: aliased(from, p), qos: p.qos, retain: p.retain, dup: p.dup, payload: p.payload });
    // MQTT.js numbers a QoS 0 PUBLISH 0, and PINGs and CONNACKs not at all: no packet id on the wire.
    if (p.messageId !== undefined && !(p.cmd === 'publish' && p.qos === 0)) out.messageId = p.messageId;
    if (p.cmd === 'subscribe') out.subscriptions = p.subscriptions;
    if (p.cmd === 'unsubscribe' && p.unsubscriptions !== undefined) out.unsubscriptions = p.unsubscriptions;
    if (p.cmd === 'suback' || (v5 && p.cmd === 'unsuback')) out.granted = p.granted;
    if (p.cmd === 'connack') Object.assign(out, { returnCode: p.returnCode ?? p.reasonCode, sessionPresent: p.sessionPresent });
    if (v5 && ACKS.includes(p.cmd)) out.reasonCode = p.reasonCode ?? 0;
    if (v5 && p.properties !== undefined) out.properties = onWire(p.properties);
    return out;
  };
  expect(events.filter((e) => e.from === 'client' && e.kind !== 'connect').map(ours), 'client packets').toEqual(packets.client.map(theirs('client')));
  expect(events.filter((e) => e.from === 'server').map(ours), 'server packets').toEqual(packets.server.map(theirs('server')));
  // Every acknowledgement points back at its request, from the other side, with the same id.
  for (const answer of events.filter((e) => ['connack', 'puback', 'pubrec', 'pubcomp', 'suback', 'unsuback', 'pingresp'].includes(e.kind))) {
    const request = events.find((e) => e.packet === answer.replyTo && e.from !== answer.from);
    expect(request, `the request of ${answer.summary}`).toBeDefined();
    if (answer.packetId !== undefined) expect(request!.packetId).toBe(answer.packetId);
    expect(answer.latencyMs).toBeGreaterThanOrEqual(0);
  }
}

/** STOMP: the frames the broker read and wrote, with unescaped headers and bodies (scenarios/stomp-stompjs.mjs). */
function checkStomp(events: Json[], app: AppManifest): void {
  const frames = app.frames as Record<'client' | 'server', Json[]>;
  for (const from of ['client', 'server'] as const) {
    const got = events.filter((e) => e.from === from && e.kind !== 'heartbeat').map((e) => ({ command: e.command, headers: e.headers, body: generatorTerms(e.body) }));
    expect(got, `${from} frames`).toEqual(frames[from]);
  }
  const beats = app.heartbeats as Record<'client' | 'server', number>;
  for (const from of ['client', 'server'] as const) expect(events.filter((e) => e.from === from && e.kind === 'heartbeat').length, `${from} heart-beats`).toBe(beats[from]);
  // The client's own view (stompjs's API): what it sent, the receipts and MESSAGEs it got.
  const api = app.api as Json[];
  const sends = events.filter((e) => e.kind === 'send').map((e) => ({ destination: e.destination, body: generatorTerms(e.body) }));
  expect(sends).toEqual(api.filter((a) => a.kind === 'send').map((a) => ({ destination: a.destination, body: a.body })));
  for (const a of api.filter((x) => x.kind === 'send')) expect(events.find((e) => e.kind === 'send' && e.destination === a.destination)!.headers).toMatchObject(a.headers);
  if (app.received !== undefined) {
    const messages = events.filter((e) => e.kind === 'message').map((e) => ({ destination: e.destination, subscription: e.subscription, body: generatorTerms(e.body) }));
    expect(messages).toEqual((app.received as Json[]).map((m) => ({ destination: m.destination, subscription: m.subscription, body: m.body })));
    const receipts = events.filter((e) => e.kind === 'receipt').map((e) => e.receiptId);
    for (const r of app.receipts as string[]) expect(receipts).toContain(r);
  }
  const connected = events.find((e) => e.kind === 'connected')!;
  const connect = api.find((a) => a.kind === 'connect')!;
  if (connect.negotiated !== undefined) expect(connected.heartBeat).toEqual({ client: connect.negotiated.outgoing, server: connect.negotiated.incoming });
  // Receipts and an ERROR with a receipt-id answer the frame that asked.
  for (const answer of events.filter((e) => e.kind === 'receipt' || e.kind === 'error' || e.kind === 'connected')) {
    const request = events.find((e) => e.packet === answer.replyTo && e.from === 'client');
    expect(request, `the request of ${answer.summary}`).toBeDefined();
    if (answer.kind !== 'connected') expect(request!.receipt).toBe(answer.receiptId);
  }
  expect(events.flatMap((e) => e.alerts)).toEqual([]);
}

describe('application messages match what the real peers sent', () => {
  it('has manifests to check', () => {
    expect(manifests.map((m) => m.name)).toEqual(expect.arrayContaining(['socketio-node.expected.json', 'graphql-ws.expected.json', 'signalr.expected.json', 'mqtt-aedes.expected.json', 'mqtt5-mosquitto.expected.json', 'stomp-stompjs.expected.json']));
  });

  it.each(manifests)('$name', async ({ spec }) => {
    for (const c of spec.connections) {
      if (c.app === undefined) continue;
      expect(existsSync(`${DIR}/${spec.file}`)).toBe(true);
      const events = await appEvents(spec.file, c.client.port);
      if (c.app.protocol === 'socket.io') checkSocketIo(events, c.app);
      else if (c.app.protocol === 'graphql-ws') checkGraphQl(events, c.app, await endOf(spec.file, c.client.port));
      else if (c.app.protocol === 'signalr') checkSignalR(events, c.app, await endOf(spec.file, c.client.port));
      else if (c.app.protocol === 'mqtt') checkMqtt(events, c.app);
      else if (c.app.protocol === 'stomp') checkStomp(events, c.app);
      else throw new Error(`no check for ${c.app.protocol}`);
    }
  });
});
