/**
 * --explain for application messages: how the message was spelled, piece by piece (a
 * Socket.IO event: Engine.IO type, Socket.IO type, attachments, namespace, ack id, JSON), then
 * the value it carried, indented, and the line the table prints.
 */
import type { AppEvent } from '../app/types.js';
import { prettyValue } from '../app/values.js';
import { escapeText } from './escape.js';
import { visibleLength } from './wrap.js';

/** A piece this wide (brackets included) or narrower shares its line with its meaning. */
const PIECE = 12;
/** Characters of a long piece shown (on a line of its own). */
const LONG_PIECE = 64;

export function explainApp(e: AppEvent, dim: (text: string) => string, width: number): string {
  const lines = [`${dim('   └')} ${e.protocol} ${e.kind}${e.name !== null ? ` ${escapeText(JSON.stringify(e.name), 40)}` : ''}${e.parts && e.parts.length > 0 ? ', as sent:' : ''}`];
  for (const part of e.parts ?? []) {
    const piece = part.text === '' ? dim('(none)') : `[${escapeText(part.text, LONG_PIECE)}]`;
    const meaning = escapeText(part.meaning, 300);
    if (visibleLength(piece) <= PIECE) lines.push(`     ${piece}${' '.repeat(PIECE + 1 - visibleLength(piece))}${meaning}`);
    else lines.push(`     ${piece}`, `     ${' '.repeat(PIECE + 1)}${meaning}`);
  }
  if (e.detail !== undefined) {
    lines.push(`     ${escapeText(e.detail.label, 60)}:`);
    for (const line of prettyValue(e.detail.value, 40)) lines.push(`       ${escapeText(line, Math.max(20, width - 8))}`);
  }
  if (e.session !== null) lines.push(`     session ${escapeText(e.session, 60)}`);
  lines.push(`     ${dim('line:')} ${escapeText(e.summary, Math.max(20, width * 2))}`);
  return lines.join('\n') + '\n';
}
