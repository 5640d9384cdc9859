/**
 * The built-in faults: what a lab asks of a proxy without writing a script. Each says, in the
 * live view, what it did (a notice per action, see docs/json.md).
 */

export interface FaultOptions {
  /** Each message (data or control) held this long, in ms: uniform in [min, max] (jitter); order kept. */
  delay?: { min: number; max: number };
  /** Pings dropped, both ways (a heartbeat then times out). */
  dropPings?: boolean;
  /** Pongs dropped, both ways. */
  dropPongs?: boolean;
  /** Each data message re-sent as frames of at most this many payload bytes. */
  fragment?: number;
  /** After this many data messages (both ways), the proxy starts a closing handshake with each side. */
  closeAfter?: { messages: number; code: number };
  /** Bytes per second, each direction. */
  throttle?: number;
}

/** True when any fault is set. */
export function hasFaults(faults: FaultOptions): boolean {
  return faults.delay !== undefined || faults.dropPings === true || faults.dropPongs === true || faults.fragment !== undefined || faults.closeAfter !== undefined || faults.throttle !== undefined;
}

/** The faults as the options that set them, for one line at start. */
export function describeFaults(faults: FaultOptions): string {
  const parts: string[] = [];
  if (faults.delay) parts.push(`--delay ${faults.delay.min === faults.delay.max ? faults.delay.min : `${faults.delay.min}-${faults.delay.max}`}`);
  if (faults.dropPings) parts.push('--drop-pings');
  if (faults.dropPongs) parts.push('--drop-pongs');
  if (faults.fragment !== undefined) parts.push(`--fragment ${faults.fragment}`);
  if (faults.closeAfter) parts.push(`--close-after ${faults.closeAfter.messages}:${faults.closeAfter.code}`);
  if (faults.throttle !== undefined) parts.push(`--throttle ${faults.throttle}`);
  return parts.join(' ');
}

/** `MS` or `MS-MS`. */
export function parseDelay(text: string): { min: number; max: number } {
  const match = /^(\d{1,7})(?:-(\d{1,7}))?$/.exec(text.trim());
  if (match === null) throw new RangeError('expected milliseconds, such as 200, or a range such as 100-300.');
  const min = Number(match[1]);
  const max = match[2] !== undefined ? Number(match[2]) : min;
  if (max < min) throw new RangeError(`the range ${min}-${max} runs backwards.`);
  return { min, max };
}

/** `N` or `N:CODE` (RFC 6455 §7.4: a code an endpoint may send, 1000-4999 less the reserved ones). */
export function parseCloseAfter(text: string): { messages: number; code: number } {
  const match = /^(\d{1,9})(?::(\d{4}))?$/.exec(text.trim());
  if (match === null) throw new RangeError('expected a number of messages, such as 5, or 5:4000 for a close code.');
  const messages = Number(match[1]);
  const code = match[2] !== undefined ? Number(match[2]) : 1000;
  if (messages < 1) throw new RangeError('expected at least 1 message.');
  if (!isSendableCloseCode(code)) throw new RangeError(`${code} is not a close code an endpoint may send (1000-1003, 1007-1014, 3000-4999).`);
  return { messages, code };
}

/** §7.4.1-§7.4.2: 1004, 1005, 1006 and 1015 are never sent in a Close frame; 1016-2999 are unassigned. */
export function isSendableCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999);
}
