/**
 * Plain JSON (RFC 8259), for connections whose text matches no protocol. It is not sniffed:
 * JSON text is already readable as the message's text, and the views show it as JSON without
 * it (compact in the table, indented by --explain: src/app/json-text.ts). Chosen with
 * `--app json` (or a `json` subprotocol), each JSON text message also becomes an app event,
 * so scripts get the value parsed and --event, --summary and --events see a name: the first
 * string among the members most apps name their messages with.
 */
import type { StreamPosition } from '../websocket/types.js';
import { appEvent, type AppDecoder, type AppInput, type AppOutput, type AppValue, type DecoderContext } from './types.js';
import { compactValue, isObject, parseJson } from './values.js';

/** Members that name a message in common JSON protocols of one's own ("type": "chat" …). */
const NAME_KEYS = ['type', 'event', 'action', 'op', 'cmd', 'command', 'method', 'topic', 'channel', 'name'];

function kindOf(value: AppValue): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value === 'object' ? 'object' : typeof value;
}

/** The name a JSON message gives itself, if any. */
export function jsonName(value: AppValue): string | null {
  if (!isObject(value)) return null;
  for (const key of NAME_KEYS) {
    const v = value[key];
    if (typeof v === 'string') return v;
  }
  return null;
}

class JsonDecoder implements AppDecoder {
  readonly protocol = 'json';
  readonly gaveUp = null;
  readonly session = null;

  constructor(private readonly context: DecoderContext) {}

  message(input: AppInput): AppOutput[] {
    if (input.text === null) return [];
    const value = parseJson(input.text);
    // Text that is not JSON is simply text: nothing to add.
    if (value === undefined) return [];
    const name = jsonName(value);
    return [
      appEvent(input, {
        protocol: 'json',
        kind: kindOf(value),
        summary: `json ${compactValue(value)}`,
        name,
        fields: { data: value },
        ...(this.context.explain ? { parts: [], detail: { label: 'JSON', value } } : {}),
      }),
    ];
  }

  end(_conn: number, _at: StreamPosition): AppOutput[] {
    return [];
  }
}

export function createJsonDecoder(context: DecoderContext): AppDecoder {
  return new JsonDecoder(context);
}
