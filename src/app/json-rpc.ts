/**
 * JSON-RPC 2.0 (https://www.jsonrpc.org/specification): requests (§4), notifications (§4.1),
 * responses and errors (§5, §5.1) and batches (§6), in either direction. A response is paired
 * with its request by id, and shows the method it answers and how long the answer took.
 */
import { makeAlert, type Alert, type AlertCode } from '../alerts.js';
import type { StreamPosition } from '../websocket/types.js';
import { pairNote, type Paired } from './pairs.js';
import { appEvent, type AppDecoder, type AppInput, type AppOutput, type AppValue, type DecoderContext } from './types.js';
import { compactValue, isObject, parseJson } from './values.js';

/** Messages in a row that are not JSON-RPC before the decoder stops following the connection. */
const GIVE_UP_AFTER = 5;

type Obj = { [key: string]: AppValue };

/** Why an object is not a JSON-RPC 2.0 Request or Response, or null when it is one. */
function problem(m: Obj): string | null {
  if (m.jsonrpc !== '2.0') return '"jsonrpc" is not "2.0"';
  const id = m.id;
  if (id !== undefined && id !== null && typeof id !== 'string' && typeof id !== 'number') return 'the id is neither a string, a number nor null';
  if ('method' in m) {
    if (typeof m.method !== 'string') return 'the method is not a string';
    if (m.params !== undefined && !Array.isArray(m.params) && !isObject(m.params)) return 'params is neither an array nor an object';
    return null;
  }
  if ('result' in m === 'error' in m) return 'neither a request (method) nor a response with exactly one of result and error';
  if (!('id' in m)) return 'a response without an id';
  if ('error' in m) {
    const e = m.error;
    if (!isObject(e) || typeof e.code !== 'number' || !Number.isInteger(e.code) || typeof e.message !== 'string') return 'the error is not an object with an integer code and a message';
  }
  return null;
}

/** Is this text JSON-RPC 2.0: one message, or a batch of them? (sniffing) */
export function isJsonRpc(text: string): boolean {
  const value = parseJson(text);
  if (isObject(value)) return problem(value) === null;
  return Array.isArray(value) && value.length > 0 && value.every((m) => isObject(m) && problem(m) === null);
}

class JsonRpcDecoder implements AppDecoder {
  readonly protocol = 'json-rpc';
  gaveUp: string | null = null;
  readonly session = null;
  private badInARow = 0;

  constructor(private readonly context: DecoderContext) {}

  message(input: AppInput): AppOutput[] {
    // JSON-RPC is text (JSON, RFC 8259); binary messages are not its business.
    if (input.text === null) return [];
    const value = parseJson(input.text);
    if (value === undefined) return this.bad(input, 'jsonrpc.json-invalid', 'The message is not JSON (a server answers such a request with -32700 Parse error, §5.1).');
    if (Array.isArray(value)) {
      if (value.length === 0) return this.bad(input, 'jsonrpc.invalid', 'An empty batch (§6).');
      this.badInARow = 0;
      return value.map((m, index) => this.one(input, m, { index, size: value.length }));
    }
    if (!isObject(value)) return this.bad(input, 'jsonrpc.invalid', 'The message is JSON but neither an object nor a batch.');
    const why = problem(value);
    if (why !== null) return this.bad(input, 'jsonrpc.invalid', `Not a JSON-RPC 2.0 message: ${why}.`);
    this.badInARow = 0;
    return [this.one(input, value, null)];
  }

  end(_conn: number, _at: StreamPosition): AppOutput[] {
    return [];
  }

  private bad(input: AppInput, code: AlertCode, message: string): AppOutput[] {
    this.badInARow++;
    if (this.badInARow >= GIVE_UP_AFTER) this.gaveUp = `${GIVE_UP_AFTER} messages in a row are not JSON-RPC`;
    return [{ type: 'alert', conn: input.conn, alert: makeAlert(code, message, where(input)) }];
  }

  /** One request, notification or response (of a batch, or alone). */
  private one(input: AppInput, value: AppValue, batch: { index: number; size: number } | null): AppOutput {
    if (!isObject(value) || problem(value) !== null) {
      const why = isObject(value) ? problem(value)! : 'not an object';
      return { type: 'alert', conn: input.conn, alert: makeAlert('jsonrpc.invalid', `Batch member ${batch!.index + 1} of ${batch!.size}: ${why}.`, where(input)) };
    }
    const m = value;
    const pairs = this.context.pairs;
    const alerts: Alert[] = [];
    const id = m.id === undefined ? null : m.id;
    const key = JSON.stringify(id);
    const inBatch = batch !== null ? `  batch ${batch.index + 1}/${batch.size}` : '';
    const fields: Record<string, AppValue> = { id };
    let kind: string;
    let summary: string;
    let name: string | null = null;
    let paired: Paired | null = null;
    let detail: { label: string; value: AppValue } | undefined;
    if (typeof m.method === 'string') {
      name = m.method;
      fields.method = m.method;
      fields.params = m.params ?? null;
      // §4.1: a request without an "id" member is a notification, and gets no response.
      kind = 'id' in m ? 'request' : 'notification';
      if (kind === 'request' && pairs.request(input.direction, key, 'request', input.at, m.method)) {
        alerts.push(makeAlert('jsonrpc.id-reused', `Request id ${key} was used again while the request sent with it was unanswered.`, where(input)));
      }
      summary = `json-rpc ${kind} ${m.method}${m.params !== undefined ? ` ${compactValue(m.params)}` : ''}${kind === 'request' ? `  id ${key}` : ''}${inBatch}`;
      if (m.params !== undefined) detail = { label: 'params', value: m.params };
    } else {
      // id null: the error of a request whose id could not be read (§5): nothing to pair.
      if (id !== null) {
        paired = pairs.answer(input.direction, key, input.at);
        if (paired === null) alerts.push(makeAlert('jsonrpc.response-unknown', `Response id ${key} answers no request sent in this capture.`, where(input)));
      }
      name = paired?.requestName ?? null;
      if ('error' in m) {
        kind = 'error';
        const e = m.error as Obj;
        fields.error = e;
        summary = `json-rpc error${name !== null ? ` ${name}` : ''} ${e.code} ${compactValue(e.message!)}${e.data !== undefined ? ` ${compactValue(e.data)}` : ''}  id ${key}${inBatch}${pairNote(paired)}`;
        detail = { label: 'error', value: e };
      } else {
        kind = 'response';
        fields.result = m.result!;
        summary = `json-rpc response${name !== null ? ` ${name}` : ''} ${compactValue(m.result!)}  id ${key}${inBatch}${pairNote(paired)}`;
        detail = { label: 'result', value: m.result! };
      }
    }
    fields.batch = batch;
    return appEvent(input, {
      protocol: 'json-rpc',
      kind,
      summary,
      name,
      fields,
      alerts,
      ...(paired ? { replyTo: paired.replyTo, latencyMs: paired.latencyMs } : {}),
      ...(this.context.explain ? { parts: [], ...(detail ? { detail } : {}) } : {}),
    });
  }
}

function where(input: AppInput): { direction: AppInput['direction']; packet?: number } {
  return { direction: input.direction, ...(input.at.packet !== undefined ? { packet: input.at.packet } : {}) };
}

export function createJsonRpcDecoder(context: DecoderContext): AppDecoder {
  return new JsonRpcDecoder(context);
}
