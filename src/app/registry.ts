/**
 * Every application protocol the layer knows, in the order they are tried, as Wireshark's
 * dissector tables and Zeek's analyzers choose theirs: a connection is given a decoder
 *   1. by --app (forced),
 *   2. by its negotiated subprotocol (Sec-WebSocket-Protocol, RFC 6455 §1.9, §11.3.4),
 *   3. by its request target (the path and query of the upgrade),
 *   4. by sniffing its first messages: each `sniff` looks at one message cheaply and says yes
 *      only when it is sure; the first yes wins.
 * A new protocol is one module and one entry here, nothing else. Modules are loaded on first
 * use (src/app/load.ts): the sniffers below look at the bytes before anything is loaded.
 */
import { decoderModule } from './load.js';
import type { AppDecoder, AppInput, DecoderContext } from './types.js';

export interface ProtocolEntry {
  /** The name --app takes; decoders may also emit events of a protocol below it (engine.io under socket.io). */
  readonly name: string;
  /** One line for --help and the README. */
  readonly description: string;
  /** Negotiated subprotocols that select it (compared in lowercase). */
  readonly subprotocols?: readonly string[];
  /** Does the upgrade's request target select it? `path` without the query, `query` parsed. */
  readonly target?: (path: string, query: URLSearchParams) => boolean;
  /** One of the first messages of an undecided connection: is it surely this protocol? */
  readonly sniff?: (input: AppInput) => boolean;
  /** Makes the decoder of one connection (loading its module on first use). */
  readonly create: (context: DecoderContext) => AppDecoder;
}

const socketIo = decoderModule('./socket-io.js', () => import('./socket-io.js'));
const jsonRpc = decoderModule('./json-rpc.js', () => import('./json-rpc.js'));
const json = decoderModule('./json.js', () => import('./json.js'));
const msgpack = decoderModule('./msgpack.js', () => import('./msgpack.js'));
const cbor = decoderModule('./cbor.js', () => import('./cbor.js'));
const protobuf = decoderModule('./protobuf.js', () => import('./protobuf.js'));
const signalr = decoderModule('./signalr.js', () => import('./signalr.js'));
const graphqlWs = decoderModule('./graphql-ws.js', () => import('./graphql-ws.js'));
const mqtt = decoderModule('./mqtt.js', () => import('./mqtt.js'));
const stomp = decoderModule('./stomp.js', () => import('./stomp.js'));

/** The first character that is not JSON whitespace (RFC 8259 §2), or -1. */
function firstNonSpace(text: string): number {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) return c;
  }
  return -1;
}

/** An Engine.IO open packet (`0{"sid":…`, Engine.IO v4 "Handshake") or the upgrade probe (`2probe`, "Upgrade"). */
function looksLikeEngineIo(input: AppInput): boolean {
  const text = input.text;
  if (text === null) return false;
  if (text === '2probe') return input.direction === 'client';
  return input.direction === 'server' && text.startsWith('0{') && text.includes('"sid"') && text.includes('"pingInterval"');
}

/**
 * The bytes a sniffer's first test looks at: the message's first bytes, without building a
 * large payload that is still in pieces (only a message that passes that test is read whole).
 */
const lead = (input: AppInput): Uint8Array => input.head ?? input.data;

/** MessagePack's map and array formats (spec "Formats": fixmap, fixarray, array 16/32, map 16/32). */
const msgpackContainer = (b: number) => (b >= 0x80 && b <= 0x9f) || (b >= 0xdc && b <= 0xdf);
/** CBOR major types 4 (array) and 5 (map), RFC 8949 §3.1. */
const cborContainer = (b: number) => b >= 0x80 && b <= 0xbf;

export const PROTOCOLS: readonly ProtocolEntry[] = [
  {
    name: 'socket.io',
    description: 'Socket.IO v5 over Engine.IO v4 (v4 over Engine.IO v3 too): events, acks, namespaces, binary attachments',
    target: (path, query) => /\/socket\.io\/?$/.test(path) || (query.has('EIO') && query.has('transport') && !/\/engine\.io\/?$/.test(path)),
    sniff: looksLikeEngineIo,
    create: (context) => socketIo().createSocketIoDecoder(context, 'socket.io'),
  },
  {
    name: 'engine.io',
    description: 'Engine.IO v4/v3 alone: open, ping/pong, messages, the upgrade probe',
    target: (path) => /\/engine\.io\/?$/.test(path),
    create: (context) => socketIo().createSocketIoDecoder(context, 'engine.io'),
  },
  {
    name: 'json-rpc',
    description: 'JSON-RPC 2.0: requests, notifications, responses, batches',
    subprotocols: ['jsonrpc', 'json-rpc', 'jsonrpc2', 'jsonrpc-2.0', 'json-rpc-2.0'],
    sniff: (input) => input.text !== null && (firstNonSpace(input.text) === 0x7b || firstNonSpace(input.text) === 0x5b) && input.text.includes('"jsonrpc"') && jsonRpc().isJsonRpc(input.text),
    create: (context) => jsonRpc().createJsonRpcDecoder(context),
  },
  {
    // No subprotocol and any hub path: found by the handshake request that opens every
    // connection (or, mid-connection, by a JSON record ended by 0x1E).
    name: 'signalr',
    description: 'ASP.NET Core SignalR hub protocol, JSON and MessagePack: handshake, invocations, stream items, completions, pings',
    sniff: (input) => lead(input)[0] === 0x7b && input.data.includes(0x1e) && signalr().isSignalR(input),
    create: (context) => signalr().createSignalRDecoder(context),
  },
  {
    name: 'graphql-ws',
    description: 'GraphQL over WebSocket: graphql-transport-ws (the graphql-ws library) and the legacy graphql-ws of subscriptions-transport-ws',
    subprotocols: ['graphql-transport-ws', 'graphql-ws'],
    sniff: (input) => input.direction === 'client' && input.text !== null && input.text.includes('"connection_init"') && graphqlWs().isGraphQlInit(input.text),
    create: (context) => graphqlWs().createGraphQlWsDecoder(context),
  },
  {
    name: 'mqtt',
    description: 'MQTT 3.1, 3.1.1 and 5.0: control packets however messages cut them, PUBLISH paired with PUBACK/PUBREC/PUBCOMP, SUBSCRIBE with SUBACK, pings',
    // "mqtt" is registered for MQTT over WebSocket (MQTT 3.1.1 and 5.0 §6); "mqttv3.1" is what 3.1 clients offer.
    subprotocols: ['mqtt', 'mqttv3.1'],
    sniff: (input) => input.direction === 'client' && lead(input)[0] === 0x10 && mqtt().isMqttConnect(input.data),
    create: (context) => mqtt().createMqttDecoder(context),
  },
  {
    name: 'stomp',
    description: 'STOMP 1.0-1.2: frames however messages cut them, escaped headers, heart-beats and their negotiation, receipts, subscriptions',
    // The names STOMP clients offer (stomp.js, @stomp/stompjs; RabbitMQ and Spring accept them).
    subprotocols: ['v12.stomp', 'v11.stomp', 'v10.stomp', 'stomp'],
    sniff: (input) => input.direction === 'client' && input.text !== null && (input.text.startsWith('CONNECT') || input.text.startsWith('STOMP')) && stomp().isStompConnect(input.text),
    create: (context) => stomp().createStompDecoder(context),
  },
  {
    name: 'msgpack',
    description: 'MessagePack binary messages, each decoded when it parses whole',
    subprotocols: ['msgpack', 'messagepack'],
    sniff: (input) => input.text === null && lead(input).length > 1 && msgpackContainer(lead(input)[0]!) && msgpack().isMsgpack(input.data),
    create: (context) => msgpack().createMsgpackDecoder(context),
  },
  {
    name: 'cbor',
    description: 'CBOR binary messages (RFC 8949), each decoded when it parses whole',
    subprotocols: ['cbor'],
    sniff: (input) => input.text === null && lead(input).length > 1 && cborContainer(lead(input)[0]!) && cbor().isCbor(input.data),
    create: (context) => cbor().createCborDecoder(context),
  },
  {
    // Never sniffed: without a schema nearly any short byte string is some protobuf message.
    name: 'protobuf',
    description: 'protobuf without a schema (field numbers and wire types, as protoc --decode_raw); only by --app or a subprotocol naming it',
    subprotocols: ['protobuf', 'proto', 'application/x-protobuf'],
    create: (context) => protobuf().createProtobufDecoder(context),
  },
  {
    // Never sniffed: JSON text is already shown as text (compact in the table, indented by
    // --explain); this turns each JSON message into an app event when asked for.
    name: 'json',
    description: 'any JSON text message as an app event (otherwise JSON is shown as text)',
    subprotocols: ['json'],
    create: (context) => json().createJsonDecoder(context),
  },
];

/**
 * The prefixes of the alert codes the application layer raises (src/alerts.ts), so the
 * --events view can show them among application messages. A new protocol adds its own.
 */
const APP_ALERT_PREFIXES = new Set(['app', 'engineio', 'socketio', 'jsonrpc', 'signalr', 'graphqlws', 'mqtt', 'stomp']);

export function isAppAlert(code: string): boolean {
  return APP_ALERT_PREFIXES.has(code.slice(0, code.indexOf('.')));
}

/** The names --app accepts, `none` included. */
export const APP_NAMES: readonly string[] = [...PROTOCOLS.map((p) => p.name), 'none'];

export function protocolByName(name: string): ProtocolEntry | undefined {
  return PROTOCOLS.find((p) => p.name === name);
}

/** The entry a negotiated subprotocol selects. */
export function protocolForSubprotocol(subprotocol: string): ProtocolEntry | undefined {
  const name = subprotocol.toLowerCase();
  return PROTOCOLS.find((p) => p.subprotocols?.includes(name));
}

/** The entry a request target (path and query) selects. */
export function protocolForTarget(target: string): ProtocolEntry | undefined {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = new URLSearchParams(q < 0 ? '' : target.slice(q + 1));
  return PROTOCOLS.find((p) => p.target?.(path, query));
}

/** The entry the first messages select, trying each sniffer in order. */
export function protocolBySniffing(input: AppInput): ProtocolEntry | undefined {
  for (const p of PROTOCOLS) if (p.sniff?.(input)) return p;
  return undefined;
}
