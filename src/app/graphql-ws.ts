/**
 * GraphQL over WebSocket, in both of its dialects, told apart by the negotiated subprotocol:
 * - `graphql-transport-ws`: the graphql-ws library's protocol
 *   (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md): connection_init,
 *   connection_ack, ping, pong, subscribe, next, error, complete;
 * - `graphql-ws`: the legacy protocol of Apollo's subscriptions-transport-ws
 *   (https://github.com/apollographql/subscriptions-transport-ws/blob/master/PROTOCOL.md):
 *   connection_init, connection_ack, connection_error, ka, start, data, error, complete, stop,
 *   connection_terminate.
 * Found by sniffing (a client's connection_init) or forced, the dialect is learnt from the
 * first message only one of them has.
 *
 * Every message is one JSON object with a string `type`; operation messages carry the `id`
 * the client chose in its subscribe (start), and the answers (next, data, error, complete)
 * are paired with it: the subscribe's packet and the time since. The operation's name is
 * taken from `operationName`, or else read off the query document (`subscription OnGreet
 * {…}`), so --event and --summary can name every answer by it.
 *
 * Not graphql-ws's parseMessage: it throws on what it does not accept, and knows one dialect.
 */
import { makeAlert, type Alert, type AlertCode, type Direction } from '../alerts.js';
import type { StreamPosition } from '../websocket/types.js';
import { pairNote, type Paired } from './pairs.js';
import { appEvent, type AppDecoder, type AppInput, type AppOutput, type AppPart, type AppValue, type DecoderContext } from './types.js';
import { compactValue, isObject, parseJson } from './values.js';

/** The two dialects, by the subprotocol that names each. */
export type GraphQlVariant = 'graphql-transport-ws' | 'graphql-ws';

/** Messages in a row that are not GraphQL over WebSocket before the decoder stops following the connection. */
const GIVE_UP_AFTER = 5;
/** Operation ids the client ended, remembered so late answers to them are not taken as unknown. */
const MAX_ENDED = 1024;

interface TypeRule {
  /** Who may send it. */
  from: Direction | 'both';
  /** The dialects that have it (null: both). */
  variant: GraphQlVariant | null;
  /** What it is for, for --explain. */
  meaning: string;
}

const MODERN: GraphQlVariant = 'graphql-transport-ws';
const LEGACY: GraphQlVariant = 'graphql-ws';

/** Message types ("Message types" of each document). */
const TYPES: Readonly<Record<string, TypeRule>> = {
  connection_init: { from: 'client', variant: null, meaning: 'ConnectionInit: the client asks to use the socket (the payload carries its parameters)' },
  connection_ack: { from: 'server', variant: null, meaning: 'ConnectionAck: the server accepts; operations may be sent from now on' },
  ping: { from: 'both', variant: MODERN, meaning: 'Ping: the other side must answer with a pong' },
  pong: { from: 'both', variant: MODERN, meaning: 'Pong: the answer to a ping (or a one-way heartbeat)' },
  subscribe: { from: 'client', variant: MODERN, meaning: 'Subscribe: starts an operation (query, mutation or subscription) under the id' },
  next: { from: 'server', variant: MODERN, meaning: 'Next: one execution result of the operation with this id' },
  error: { from: 'server', variant: null, meaning: 'Error: the operation with this id failed (usually validation); nothing follows for it' },
  complete: { from: 'both', variant: null, meaning: 'Complete: the operation with this id is over (from the client: it stops listening)' },
  connection_error: { from: 'server', variant: LEGACY, meaning: 'GQL_CONNECTION_ERROR: the server refused the connection (or could not parse a message)' },
  ka: { from: 'server', variant: LEGACY, meaning: 'GQL_CONNECTION_KEEP_ALIVE: the server\'s periodic keep-alive' },
  start: { from: 'client', variant: LEGACY, meaning: 'GQL_START: starts an operation under the id' },
  data: { from: 'server', variant: LEGACY, meaning: 'GQL_DATA: one execution result of the operation with this id' },
  stop: { from: 'client', variant: LEGACY, meaning: 'GQL_STOP: the client stops the operation with this id' },
  connection_terminate: { from: 'client', variant: LEGACY, meaning: 'GQL_CONNECTION_TERMINATE: the client ends the session' },
};

/** The dialect a subprotocol names, or null. */
export function variantOf(subprotocol: string | null): GraphQlVariant | null {
  const name = subprotocol?.toLowerCase();
  return name === MODERN ? MODERN : name === LEGACY ? LEGACY : null;
}

/** Sniffing: a client's connection_init, the first message of both dialects. */
export function isGraphQlInit(text: string): boolean {
  const value = parseJson(text);
  return isObject(value) && value.type === 'connection_init' && (value.payload === undefined || value.payload === null || isObject(value.payload));
}

/** The first operation of a GraphQL document: its type and name (`subscription OnGreet {…}`), read cheaply. */
export function operationOf(query: string): { type: string | null; name: string | null } {
  // Comments run from # to the end of the line (GraphQL spec §2.1.4); strings are rare before the first operation.
  const text = query.replace(/#[^\n\r]*/g, '');
  const m = /(?:^|[\s},])(query|mutation|subscription)\b\s*([_A-Za-z][_0-9A-Za-z]*)?/.exec(text);
  if (m !== null) return { type: m[1]!, name: m[2] ?? null };
  // The shorthand `{ field }` is an anonymous query (§2.3).
  return { type: /^\s*\{/.test(text) ? 'query' : null, name: null };
}

type Obj = { [key: string]: AppValue };

class GraphQlWsDecoder implements AppDecoder {
  readonly protocol = 'graphql-ws';
  gaveUp: string | null = null;
  readonly session = null;
  private variant: GraphQlVariant | null;
  private badInARow = 0;
  private initSeen = false;
  private acked = false;
  private readonly ended = new Set<string>();

  constructor(private readonly context: DecoderContext) {
    this.variant = variantOf(context.subprotocol);
  }

  message(input: AppInput): AppOutput[] {
    // Both documents: every message is JSON text.
    if (input.text === null) return this.bad(input, 'graphqlws.json-invalid', 'A binary message: GraphQL over WebSocket messages are JSON text.');
    const value = parseJson(input.text);
    if (value === undefined) return this.bad(input, 'graphqlws.json-invalid', 'The message is not JSON (the server closes the socket with 4400).');
    if (!isObject(value) || typeof value.type !== 'string') return this.bad(input, 'graphqlws.message-invalid', 'The message is not an object with a string "type" (4400).');
    const rule = TYPES[value.type];
    const variant = rule?.variant ?? null;
    if (rule === undefined || (variant !== null && this.variant !== null && variant !== this.variant)) {
      const dialect = this.variant !== null ? ` of ${this.variant}` : '';
      return this.bad(input, 'graphqlws.message-invalid', `"${value.type.slice(0, 40)}" is no message type${dialect} (4400).`);
    }
    this.badInARow = 0;
    if (this.variant === null && variant !== null) this.variant = variant;
    return [this.decode(input, value, value.type, rule)];
  }

  end(_conn: number, _at: StreamPosition): AppOutput[] {
    return [];
  }

  private bad(input: AppInput, code: AlertCode, message: string): AppOutput[] {
    this.badInARow++;
    if (this.badInARow >= GIVE_UP_AFTER) this.gaveUp = `${GIVE_UP_AFTER} messages in a row are not GraphQL over WebSocket`;
    return [{ type: 'alert', conn: input.conn, alert: makeAlert(code, message, where(input)) }];
  }

  private decode(input: AppInput, m: Obj, type: string, rule: TypeRule): AppOutput {
    const pairs = this.context.pairs;
    const alerts: Alert[] = [];
    const from = input.direction;
    const id = typeof m.id === 'string' ? m.id : null;
    const payload = m.payload === undefined ? null : m.payload;
    const fields: Record<string, AppValue> = { variant: this.variant, id };
    let name: string | null = null;
    let paired: Paired | null = null;
    let heartbeat = false;
    let summary = `graphql-ws ${type}`;
    let detail: { label: string; value: AppValue } | undefined = payload !== null ? { label: 'payload', value: payload } : undefined;
    const idNote = id !== null ? `  id ${compactValue(id, 40)}` : '';
    if (rule.from !== 'both' && rule.from !== from) alerts.push(this.alert(input, 'graphqlws.message-invalid', `${type} is sent by the ${rule.from} only.`));
    const operation = type === 'subscribe' || type === 'start' || type === 'next' || type === 'data' || type === 'error' || type === 'complete' || type === 'stop';
    if (operation && id === null) alerts.push(this.alert(input, 'graphqlws.message-invalid', `A ${type} message carries the operation's "id", a string.`));
    const key = `op ${id}`;
    switch (type) {
      case 'connection_init':
        if (this.initSeen && this.variant !== LEGACY) alerts.push(this.alert(input, 'graphqlws.init-repeated', 'A second connection_init on the socket (the server closes it with 4429 Too many initialisation requests).'));
        this.initSeen = true;
        pairs.request(from, 'init', 'connection_init', input.at);
        if (payload !== null) summary += ` ${compactValue(payload)}`;
        break;
      case 'connection_ack':
      case 'connection_error':
        this.acked ||= type === 'connection_ack';
        paired = pairs.answer(from, 'init', input.at);
        if (payload !== null) summary += ` ${compactValue(payload)}`;
        break;
      case 'ping':
      case 'pong':
      case 'ka':
        heartbeat = true;
        if (type === 'ping') pairs.request(from, 'ping', 'ping', input.at);
        else if (type === 'pong') paired = pairs.answer(from, 'ping', input.at);
        if (payload !== null) summary += ` ${compactValue(payload)}`;
        break;
      case 'subscribe':
      case 'start': {
        const p = isObject(payload) ? payload : null;
        const query = p !== null && typeof p.query === 'string' ? p.query : null;
        if (query === null) alerts.push(this.alert(input, 'graphqlws.message-invalid', `A ${type} message's payload carries the operation's "query", a string.`));
        const op = query !== null ? operationOf(query) : { type: null, name: null };
        name = p !== null && typeof p.operationName === 'string' ? p.operationName : op.name;
        Object.assign(fields, { operationName: name, operationType: op.type, query, variables: p?.variables ?? null, extensions: p?.extensions ?? null });
        if (this.variant === MODERN && this.initSeen && !this.acked) alerts.push(this.alert(input, 'graphqlws.before-ack', `${type} before the server's connection_ack (the server closes the socket with 4401 Unauthorized).`));
        if (id !== null) {
          this.ended.delete(id);
          if (pairs.request(from, key, type, input.at, name)) alerts.push(this.alert(input, 'graphqlws.id-reused', `Operation id ${JSON.stringify(id)} is still in use by an operation that has not completed (the server closes the socket with 4409 Subscriber for ${id} already exists).`));
        }
        summary += ` ${name ?? op.type ?? '?'}${op.type !== null && name !== null ? ` (${op.type})` : ''}${idNote}${p?.variables != null ? `  variables ${compactValue(p.variables)}` : ''}`;
        detail = query !== null ? { label: 'query', value: query } : detail;
        break;
      }
      case 'next':
      case 'data':
      case 'error':
      case 'complete':
      case 'stop': {
        const fromClient = from === 'client';
        if (id !== null && fromClient && (type === 'complete' || type === 'stop')) {
          // The client ends its own operation (complete in graphql-transport-ws, stop in graphql-ws).
          paired = pairs.withdraw(from, key, input.at);
          this.remember(id);
        } else if (id !== null && !fromClient) {
          paired = type === 'next' || type === 'data' ? pairs.progress(from, key, input.at) : pairs.answer(from, key, input.at);
          // Answers to an operation the client already ended are allowed ("Complete"): only others are unknown.
          if (paired === null && !this.ended.has(id)) alerts.push(this.alert(input, 'graphqlws.id-unknown', `${type} for operation id ${JSON.stringify(id)}, which no subscribe in this capture started.`));
        }
        name = paired?.requestName ?? null;
        fields.operationName = name;
        fields.payload = payload;
        const shown = payload !== null ? ` ${compactValue(payload)}` : '';
        const note = pairNote(paired, paired?.own === true ? 'ends the operation of' : 'answers');
        summary += `${name !== null ? ` ${name}` : ''}${shown}${idNote}${note}`;
        break;
      }
      case 'connection_terminate':
        break;
    }
    // Messages about the connection keep their payload as it is; subscribe's is taken apart above.
    if (!operation) fields.payload = payload;
    if (type === 'connection_init' || type === 'connection_ack' || type === 'connection_error' || type === 'ping' || type === 'pong') summary += pairNote(paired);
    return appEvent(input, {
      protocol: 'graphql-ws',
      kind: type,
      summary,
      name,
      fields,
      alerts,
      heartbeat,
      ...(paired ? { replyTo: paired.replyTo, latencyMs: paired.latencyMs, ownRequest: paired.own === true } : {}),
      ...(this.context.explain ? { parts: this.spelling(m, type, rule), ...(detail ? { detail } : {}) } : {}),
    });
  }

  private remember(id: string): void {
    if (this.ended.size >= MAX_ENDED) {
      const oldest = this.ended.values().next().value;
      if (oldest !== undefined) this.ended.delete(oldest);
    }
    this.ended.add(id);
  }

  /** The members of the message, each with what it means, for --explain. */
  private spelling(m: Obj, type: string, rule: TypeRule): AppPart[] {
    const parts: AppPart[] = [{ text: `"type":${JSON.stringify(type)}`, meaning: rule.meaning }];
    if (typeof m.id === 'string') parts.push({ text: `"id":${JSON.stringify(m.id)}`, meaning: 'operation id, chosen by the client: every message about this operation carries it' });
    if (m.payload !== undefined) {
      const what = type === 'subscribe' || type === 'start' ? 'the operation: query, operationName, variables' : type === 'next' || type === 'data' ? 'an execution result: data, errors' : type === 'error' ? 'the GraphQL errors' : 'details';
      parts.push({ text: '"payload":…', meaning: `payload: ${what}` });
    }
    return parts;
  }

  private alert(input: AppInput, code: AlertCode, message: string): Alert {
    return makeAlert(code, message, where(input));
  }
}

function where(input: AppInput): { direction: Direction; packet?: number } {
  return { direction: input.direction, ...(input.at.packet !== undefined ? { packet: input.at.packet } : {}) };
}

export function createGraphQlWsDecoder(context: DecoderContext): AppDecoder {
  return new GraphQlWsDecoder(context);
}
