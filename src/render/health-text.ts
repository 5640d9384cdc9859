/**
 * Connection health in words, for the summary, timeline and explain views: the heartbeat of each
 * side, the closing handshake and the timing of an `end` event. Plain text, traffic escaped.
 */
import type { Direction } from '../alerts.js';
import type { ConnectionEndEvent } from '../engine/events.js';
import type { AppHeartbeatSummary } from '../app/heartbeats.js';
import type { HeartbeatDuty } from '../app/types.js';
import type { CloseSummary, TimingSummary } from '../engine/health.js';
import type { HeartbeatStats } from '../websocket/heartbeat.js';
import type { Spread } from '../websocket/samples.js';
import { escapeText } from './escape.js';

const ARROW: Record<Direction, string> = { client: 'C→S', server: 'S→C' };
const other = (d: Direction): Direction => (d === 'client' ? 'server' : 'client');

/** A number of milliseconds with the precision that reads well at its size. */
function number(ms: number, unit: 'ms' | 's'): string {
  const v = unit === 's' ? ms / 1000 : ms;
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : v.toFixed(2);
}

/** `150 ms`, `0.21 ms`, `2.50 s`. */
export function formatMs(ms: number): string {
  const unit = Math.abs(ms) >= 1000 ? 's' : 'ms';
  return `${number(ms, unit)} ${unit}`;
}

/** `0.21/0.30/1.10 ms`, one unit for the three. */
function formatSpread(s: Spread): string {
  const unit = s.max >= 1000 ? 's' : 'ms';
  return `${number(s.min, unit)}/${number(s.median, unit)}/${number(s.max, unit)} ${unit}`;
}

/** One line per side that sent heartbeats, e.g. `client pings every 150 ms (6), answered in 0.21/0.30/1.10 ms (min/median/max), 0 unanswered`. */
export function heartbeatLines(heartbeat: ConnectionEndEvent['heartbeat']): string[] {
  if (heartbeat === null) return [];
  const lines: string[] = [];
  for (const d of ['client', 'server'] as const) {
    const s = heartbeat[d];
    if (s !== null) lines.push(heartbeatLine(d, s));
  }
  return lines;
}

/** `oneWay`: what a heartbeat that answers nothing is called (a WebSocket Pong, or a protocol's own beat). */
function heartbeatLine(side: Direction, s: HeartbeatStats, oneWay: 'unsolicited pong' | 'one-way heartbeat' = 'unsolicited pong'): string {
  const every = s.intervalMs !== null ? ` every ${formatMs(s.intervalMs.median)}` : '';
  const parts: string[] = [];
  if (s.pings > 0) {
    parts.push(s.pings === 1 ? `${side} pinged once` : `${side} pings${every} (${s.pings})`);
    if (s.pongs === 0) parts.push('never answered');
    else if (s.rttMs === null) parts.push(`${s.pongs} answered (times unknown)`);
    else if (s.pongs === 1 || s.rttMs.min === s.rttMs.max) parts.push(`answered in ${formatMs(s.rttMs.median)}${s.pongs > 1 ? ` (${s.pongs} times)` : ''}`);
    else parts.push(`answered in ${formatSpread(s.rttMs)} (min/median/max)`);
    parts.push(`${s.unanswered} unanswered`);
    if (s.unsolicitedPongs > 0) parts.push(`and ${s.unsolicitedPongs} ${oneWay}${s.unsolicitedPongs === 1 ? '' : 's'}`);
  } else if (oneWay === 'unsolicited pong') {
    parts.push(`${side} sends unsolicited pongs${every} (${s.unsolicitedPongs}): a one-way heartbeat`);
  } else {
    parts.push(`${side} sends one-way heartbeats${every} (${s.unsolicitedPongs})`);
  }
  return parts.join(', ');
}

/**
 * The protocol's heartbeats, e.g. `engine.io: server pings every 411 ms (2), answered in
 * 0.84/2.84/4.84 ms (min/median/max), 0 unanswered` and `engine.io negotiated: the server pings
 * every 400 ms, answered within 300 ms; the client gives up after 700 ms without one`.
 */
export function appHeartbeatLines(beats: AppHeartbeatSummary | null): string[] {
  if (beats === null) return [];
  const name = escapeText(beats.protocol, 20);
  const lines: string[] = [];
  for (const d of ['client', 'server'] as const) {
    const s = beats[d];
    if (s !== null) lines.push(`${name}: ${heartbeatLine(d, s, 'one-way heartbeat')}`);
  }
  if (beats.negotiated === null) {
    lines.push(`${name} negotiates no heartbeat timing`);
    return lines;
  }
  const duties = (['client', 'server'] as const).flatMap((d) => (beats.negotiated![d] !== null ? [dutyText(d, beats.negotiated![d]!)] : []));
  if (duties.length > 0) lines.push(`${name} negotiated: ${duties.join('; ')}`);
  return lines;
}

function dutyText(side: Direction, duty: HeartbeatDuty): string {
  const parts: string[] = [];
  const what = duty.anyMessage ? 'sends something' : duty.timeoutMs !== null ? 'pings' : 'sends a heartbeat';
  parts.push(duty.intervalMs !== null ? (duty.intervalMs === 0 ? `the ${side} owes no heartbeat` : `the ${side} ${what} every ${formatMs(duty.intervalMs)}`) : `the ${side} ${what}`);
  if (duty.timeoutMs !== null) parts.push(`answered within ${formatMs(duty.timeoutMs)}`);
  let text = parts.join(', ');
  if (duty.silenceMs !== null) text += `; the ${other(side)} gives up after ${formatMs(duty.silenceMs)} without ${duty.anyMessage ? 'a message' : 'one'}`;
  return text;
}

/** `code "reason"` of one side's Close; an echo's reason only when it differs from the first. */
function closeFrame(close: CloseSummary, side: Direction): string {
  const code = close.codes[side];
  const reason = close.reasons[side];
  const echoed = side !== close.initiator && close.initiator !== null && reason === close.reasons[close.initiator];
  return `${side} ${code ?? '(no code)'}${reason && !echoed ? ` "${escapeText(reason, 40)}"` : ''}`;
}

/** How TCP ended, in order: `server FIN, then client FIN`, `client RST`, `TCP still open at the end`. */
function tcpEnd(close: CloseSummary): string {
  const first = close.tcpClosedFirstBy;
  if (first === null) return 'TCP still open at the end';
  const second = other(first);
  const sent = (d: Direction) => `${d} ${close.tcpSent[d]!.toUpperCase()}`;
  const then = close.tcpSent[second] !== null ? `, then ${sent(second)}` : close.tcpEnd === 'open' ? `; the ${second}'s side still open at the end` : '';
  return `TCP: ${sent(first)}${then}`;
}

/** E.g. `client 1000 "bye" → server 1000 in 0.40 ms, clean`. */
export function closeLine(close: CloseSummary): string {
  const parts: string[] = [];
  if (close.initiator === null) {
    parts.push(`none; ${tcpEnd(close)}${close.tcpClosedFirstBy !== null ? ', so each application sees 1006' : ''}`);
  } else {
    const answerer = other(close.initiator);
    const answered = close.reasons[answerer] !== null;
    const echo = answered ? `${closeFrame(close, answerer)}${close.echoMs !== null ? ` in ${formatMs(close.echoMs)}` : ''}` : 'no answer';
    parts.push(`${closeFrame(close, close.initiator)} → ${echo}`);
    if (close.clean) parts.push(close.tcpClosedFirstBy === 'client' ? 'clean, but the client closed TCP first' : 'clean');
    else parts.push(`not clean: ${tcpEnd(close)}`);
  }
  for (const d of ['client', 'server'] as const) {
    const n = close.dataAfterClose[d];
    if (n > 0) parts.push(`${n} data frame${n === 1 ? '' : 's'} after the ${d}'s Close`);
  }
  return parts.join(', ');
}

/** E.g. `101 after 9.31 ms; first message C→S after 4.03 ms, S→C none; longest silence C→S 4.53 ms, S→C 8.10 ms`. */
export function timingLine(timing: TimingSummary): string {
  const parts: string[] = [];
  const pair = (values: Record<Direction, number | null>, prefix: string) => (['client', 'server'] as const).map((d) => `${ARROW[d]} ${values[d] === null ? 'none' : `${prefix}${formatMs(values[d]!)}`}`).join(', ');
  if (timing.upgradeMs !== null) parts.push(`101 after ${formatMs(timing.upgradeMs)}`);
  if (timing.firstMessageMs.client !== null || timing.firstMessageMs.server !== null) parts.push(`first message ${pair(timing.firstMessageMs, 'after ')}`);
  if (timing.longestSilenceMs.client !== null || timing.longestSilenceMs.server !== null) parts.push(`longest silence ${pair(timing.longestSilenceMs, '')}`);
  return parts.join('; ');
}
