/** RFC 6455 constants in one place, each with the section that defines it. */

/** §1.3, §4.2.2: appended to Sec-WebSocket-Key before hashing. */
export const WEBSOCKET_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';

/** §5.2 opcodes. */
export const Opcode = {
  Continuation: 0x0,
  Text: 0x1,
  Binary: 0x2,
  Close: 0x8,
  Ping: 0x9,
  Pong: 0xa,
} as const;

const OPCODE_NAMES: Readonly<Record<number, string>> = {
  0x0: 'continuation',
  0x1: 'text',
  0x2: 'binary',
  0x8: 'close',
  0x9: 'ping',
  0xa: 'pong',
};

/** §5.2: name of an opcode; reserved ones are named by their range. */
export function opcodeName(opcode: number): string {
  const name = OPCODE_NAMES[opcode];
  if (name !== undefined) return name;
  return opcode < 0x8 ? `reserved-data-0x${opcode.toString(16)}` : `reserved-control-0x${opcode.toString(16)}`;
}

/** §5.5: opcodes with the high bit set are control frames (including reserved 0xB-0xF). */
export function isControlOpcode(opcode: number): boolean {
  return (opcode & 0x8) !== 0;
}

/** §5.2: opcodes 0x3-0x7 and 0xB-0xF are reserved for further frames. */
export function isReservedOpcode(opcode: number): boolean {
  return OPCODE_NAMES[opcode] === undefined;
}

/** §5.5: control frames carry at most 125 bytes. */
export const MAX_CONTROL_PAYLOAD = 125;

/** §7.4.1 and the IANA "WebSocket Close Code Number Registry" (§11.7). */
const CLOSE_CODE_NAMES: Readonly<Record<number, string>> = {
  1000: 'Normal Closure',
  1001: 'Going Away',
  1002: 'Protocol Error',
  1003: 'Unsupported Data',
  1004: 'Reserved',
  1005: 'No Status Received',
  1006: 'Abnormal Closure',
  1007: 'Invalid Frame Payload Data',
  1008: 'Policy Violation',
  1009: 'Message Too Big',
  1010: 'Mandatory Extension',
  1011: 'Internal Error',
  1012: 'Service Restart',
  1013: 'Try Again Later',
  1014: 'Bad Gateway',
  1015: 'TLS Handshake',
};

/** §7.4: the name of a close code, including the ranges that have no individual names. */
export function closeCodeName(code: number): string {
  const name = CLOSE_CODE_NAMES[code];
  if (name !== undefined) return name;
  if (code < 1000) return 'Unused (0-999)';
  if (code < 3000) return 'Reserved for the protocol (1016-2999)';
  if (code < 4000) return 'Registered (3000-3999: libraries, frameworks)';
  if (code < 5000) return 'Private use (4000-4999)';
  return 'Out of range (5000+)';
}

/**
 * §7.4.1, §7.4.2: may this code appear in a Close frame on the wire?
 * 1004 is reserved, 1005/1006/1015 are for reporting only, 1016-2999 belong to future RFCs.
 */
export function isValidCloseCode(code: number): boolean {
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  return code >= 3000 && code <= 4999;
}
