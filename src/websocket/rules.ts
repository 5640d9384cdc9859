import { makeAlert, type Alert, type AlertExtra } from '../alerts.js';
import { isControlOpcode, isReservedOpcode, MAX_CONTROL_PAYLOAD } from './constants.js';
import { rsvBits } from './extension.js';
import type { Frame } from './types.js';

export interface FrameRuleContext {
  /** RSV bits the negotiated extensions define; null when the extensions are unknown (mid-stream). */
  allowedRsv: number | null;
}

function hex32(key: Uint8Array): string {
  return Buffer.from(key.buffer, key.byteOffset, key.byteLength).toString('hex');
}

/** Where a frame's alert points: its direction, stream offset and first packet. */
export function frameWhere(frame: Frame): AlertExtra {
  return { direction: frame.direction, offset: frame.offset, ...(frame.start.packet !== undefined ? { packet: frame.start.packet } : {}) };
}

/** Every byte 0 (a loop rather than `every` and a callback: this runs for every masked frame). */
function isZero(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] !== 0) return false;
  return true;
}

/**
 * The checks that need nothing but the frame header (RFC 6455 §5.1-§5.5, §10.3). Message
 * and connection level rules (fragmentation, close, ping) live in the assembler and session.
 */
export function checkFrameHeader(frame: Frame, ctx: FrameRuleContext): Alert[] {
  const alerts: Alert[] = [];
  // Built only for an alert (most frames break no rule), and without a closure per frame.
  let at: AlertExtra | undefined;

  // §5.2: RSV bits must be 0 unless an extension negotiated a meaning for them.
  if (ctx.allowedRsv !== null) {
    const stray = rsvBits(frame) & ~ctx.allowedRsv;
    if (stray !== 0) {
      const names = [4, 2, 1].filter((b) => stray & b).map((b) => `RSV${b === 4 ? 1 : b === 2 ? 2 : 3}`);
      alerts.push(makeAlert('frame.rsv-unnegotiated', `${names.join(', ')} set but no negotiated extension defines ${names.length > 1 ? 'them' : 'it'}.`, (at ??= frameWhere(frame))));
    }
  }

  // §5.2: reserved opcodes.
  if (isReservedOpcode(frame.opcode)) {
    alerts.push(makeAlert('frame.opcode-reserved', `Opcode 0x${frame.opcode.toString(16)} is reserved.`, { ...(at ??= frameWhere(frame)), detail: { opcode: frame.opcode } }));
  }

  // §5.1, §5.3: clients mask everything, servers nothing.
  if (frame.direction === 'client' && !frame.masked) {
    alerts.push(makeAlert('frame.client-unmasked', 'Client frame is not masked: a server must close the connection (1002).', (at ??= frameWhere(frame))));
  } else if (frame.direction === 'server' && frame.masked) {
    alerts.push(makeAlert('frame.server-masked', 'Server frame is masked: a client must close the connection.', (at ??= frameWhere(frame))));
  }

  // §5.5: control frames are short and never fragmented.
  if (isControlOpcode(frame.opcode)) {
    if (frame.payloadLength > MAX_CONTROL_PAYLOAD) {
      alerts.push(makeAlert('frame.control-too-long', `${frame.opcodeName} frame carries ${frame.payloadLength} bytes; control frames carry at most 125.`, { ...(at ??= frameWhere(frame)), detail: { length: frame.payloadLength } }));
    }
    if (!frame.fin) {
      alerts.push(makeAlert('frame.control-fragmented', `${frame.opcodeName} frame has FIN clear: control frames must not be fragmented.`, (at ??= frameWhere(frame))));
    }
  }

  // §5.2: "the minimal number of bytes MUST be used to encode the length".
  if (frame.lengthEncoding === 16 && frame.payloadLength <= 125) {
    alerts.push(makeAlert('frame.length-not-minimal', `Length ${frame.payloadLength} sent in the 16-bit form; it fits the 7-bit form.`, { ...(at ??= frameWhere(frame)), detail: { length: frame.payloadLength, encoding: 16 } }));
  } else if (frame.lengthEncoding === 64 && frame.payloadLength <= 0xffff) {
    alerts.push(makeAlert('frame.length-not-minimal', `Length ${frame.payloadLength} sent in the 64-bit form; it fits the ${frame.payloadLength <= 125 ? '7' : '16'}-bit form.`, { ...(at ??= frameWhere(frame)), detail: { length: frame.payloadLength, encoding: 64 } }));
  }

  // §10.3: a zero key leaves the payload readable by intermediaries; that is what masking prevents.
  if (frame.maskingKey !== null && isZero(frame.maskingKey)) {
    alerts.push(makeAlert('mask.key-zero', 'Masking key 00000000 leaves the payload unmasked: keys must come from a strong random source so a proxy cannot be poisoned by chosen bytes.', (at ??= frameWhere(frame))));
  }
  return alerts;
}

/**
 * §5.3 wants a fresh, unpredictable key per frame. Random 32-bit keys collide by chance
 * (birthday bound: ~1% after 10,000 frames), so only a reuse among the last few keys is
 * flagged: by chance that happens about once in 270 million frames, while a client with a
 * fixed or cycling key trips it at once.
 */
export class MaskingKeyTracker {
  /** The last `window` keys as 32-bit numbers, a ring. */
  private readonly recent: number[] = [];
  private next = 0;

  constructor(private readonly window = 16) {}

  check(frame: Frame): Alert | null {
    const k = frame.maskingKey;
    if (k === null || k.length < 4) return null;
    const word = ((k[0]! << 24) | (k[1]! << 16) | (k[2]! << 8) | k[3]!) >>> 0;
    if (word === 0) return null; // already reported as mask.key-zero
    const seen = this.recent.includes(word);
    if (this.recent.length < this.window) this.recent.push(word);
    else this.recent[this.next] = word;
    this.next = (this.next + 1) % this.window;
    if (!seen) return null;
    const key = hex32(k);
    return makeAlert('mask.key-repeated', `Masking key ${key} was already used by one of the previous ${this.window} frames: keys must not be predictable.`, {
      direction: frame.direction,
      offset: frame.offset,
      ...(frame.start.packet !== undefined ? { packet: frame.start.packet } : {}),
      detail: { key },
    });
  }
}
