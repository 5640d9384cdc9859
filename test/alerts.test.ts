import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ALERT_CATALOGUE, makeAlert, renderAlertCatalogue } from '../src/alerts.js';

const DOC = new URL('../docs/alerts.md', import.meta.url);

describe('alert catalogue', () => {
  it('gives every code a severity, a section and a rule', () => {
    for (const [code, entry] of Object.entries(ALERT_CATALOGUE)) {
      expect(code).toMatch(/^[a-z0-9]+\.[a-z0-9-]+$/);
      expect(['error', 'warning', 'info']).toContain(entry.severity);
      expect(entry.section.length).toBeGreaterThan(2);
      expect(entry.rule).toMatch(/\.$/);
    }
  });

  it('fills severity and section from the catalogue', () => {
    expect(makeAlert('frame.client-unmasked', 'x', { direction: 'client', packet: 4 })).toEqual({
      code: 'frame.client-unmasked',
      severity: 'error',
      section: 'RFC 6455 §5.1',
      message: 'x',
      direction: 'client',
      packet: 4,
    });
  });

  it('is documented in docs/alerts.md exactly as the code says', () => {
    const rendered = renderAlertCatalogue();
    if (process.env.UPDATE_DOCS) writeFileSync(DOC, rendered);
    expect(readFileSync(DOC, 'utf8')).toBe(rendered);
  });
});
