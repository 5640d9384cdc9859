/**
 * The generators' records of what real peers sent (fixtures/real, fixtures/tls:
 * NAME.expected.json), and our messages put in the same terms to compare them.
 */
import { createHash } from 'node:crypto';

export interface ExpectedMessage {
  type: string;
  length?: number;
  sha256?: string;
  text?: string;
  compressed?: boolean;
  code?: number;
  reason?: string;
}

/** Our message in the generator's terms, keeping only the keys the generator recorded. */
export function comparable(m: Record<string, any>, expected: ExpectedMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { type: m.opcodeName };
  if (expected.length !== undefined) out.length = m.length;
  // Control frames carry bytes, not text: the generator wrote their payload as text.
  if (expected.text !== undefined) out.text = m.text ?? Buffer.from(m.payload, 'hex').toString('utf8');
  if (expected.sha256 !== undefined && expected.text === undefined) out.sha256 = m.text !== undefined ? createHash('sha256').update(m.text).digest('hex') : m.sha256;
  if (expected.compressed !== undefined) out.compressed = m.compressed;
  if (expected.code !== undefined) out.code = m.closeCode;
  if (expected.reason !== undefined) out.reason = m.closeReason;
  return out;
}

export function wanted(e: ExpectedMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { type: e.type };
  if (e.length !== undefined) out.length = e.length;
  if (e.text !== undefined) out.text = e.text;
  if (e.sha256 !== undefined && e.text === undefined) out.sha256 = e.sha256;
  if (e.compressed !== undefined) out.compressed = e.compressed;
  if (e.code !== undefined) out.code = e.code;
  if (e.reason !== undefined) out.reason = e.reason;
  return out;
}
