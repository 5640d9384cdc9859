import { opcodeName } from '../../src/websocket/constants.js';
import type { Frame } from '../../src/websocket/types.js';

let nextOffset = 0;

/** A Frame as the parser would report it, for assembler and rule tests that need no bytes. */
export function makeFrame(fields: Omit<Partial<Frame>, 'data'> & { opcode: number; data?: Uint8Array | string }): Frame {
  const data = typeof fields.data === 'string' ? new TextEncoder().encode(fields.data) : (fields.data ?? new Uint8Array(0));
  const direction = fields.direction ?? 'server';
  const masked = fields.masked ?? direction === 'client';
  const payloadLength = fields.payloadLength ?? data.length;
  const offset = fields.offset ?? (nextOffset += 100);
  return {
    direction,
    offset,
    fin: true,
    rsv1: false,
    rsv2: false,
    rsv3: false,
    opcodeName: opcodeName(fields.opcode),
    masked,
    maskingKey: masked ? new Uint8Array([1, 2, 3, 4]) : null,
    payloadLength,
    lengthEncoding: payloadLength <= 125 ? 7 : payloadLength <= 0xffff ? 16 : 64,
    headerLength: 2,
    header: new Uint8Array(2),
    payload: data,
    truncated: false,
    incomplete: false,
    start: {},
    end: {},
    alerts: [],
    ...fields,
    data,
  };
}

export const codes = (alerts: { code: string }[]): string[] => alerts.map((a) => a.code);
