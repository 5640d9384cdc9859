/**
 * The crafted fixtures (fixtures/crafted, see its README): each capture breaks one conformance
 * rule that real peers never break, and expected.json says which alert codes wsdump must and
 * must not report for it. The dissection runs in-process, exactly as wsdump does it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openCapture } from '../src/capture/index.js';
import { ALERT_CATALOGUE } from '../src/alerts.js';
import { CaptureDissector } from '../src/engine/capture-dissector.js';
import type { DissectEvent } from '../src/engine/events.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const dir = join(root, 'fixtures', 'crafted');

interface ExpectedMessage {
  direction: 'client' | 'server';
  type: string;
  text?: string;
  fragments?: number;
}

interface ExpectedFixture {
  file: string;
  rule: string;
  description: string;
  mustReport: string[];
  mayReport: string[];
  mustNotReport: string[];
  handshake?: Record<string, unknown>;
  messages?: ExpectedMessage[];
}

interface KnownIssue {
  file: string;
  code: string;
  kind: 'missed' | 'spurious';
  note: string;
}

interface Expected {
  fixtures: ExpectedFixture[];
  knownIssues: KnownIssue[];
}

const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8')) as Expected;

async function dissect(file: string): Promise<DissectEvent[]> {
  const capture = await openCapture(file);
  const dissector = new CaptureDissector();
  const events: DissectEvent[] = [];
  for await (const item of capture.items) events.push(...dissector.item(item));
  events.push(...dissector.finish());
  return events;
}

/** Every alert code, wherever the event model carries it. */
function alertCodes(events: DissectEvent[]): Set<string> {
  const codes = new Set<string>();
  for (const e of events) {
    if (e.type === 'alert') codes.add(e.alert.code);
    else if (e.type === 'frame') e.frame.alerts.forEach((a) => codes.add(a.code));
    else if (e.type === 'message') e.message.alerts.forEach((a) => codes.add(a.code));
    else if (e.type === 'handshake') e.alerts.forEach((a) => codes.add(a.code));
    else if (e.type === 'app') e.alerts.forEach((a) => codes.add(a.code));
    else if (e.type === 'notice') codes.add(e.code);
  }
  return codes;
}

function isKnown(file: string, code: string, kind: KnownIssue['kind']): KnownIssue | undefined {
  return expected.knownIssues.find((k) => k.file === file && k.code === code && k.kind === kind);
}

describe('crafted fixtures', () => {
  it('lists exactly the captures in fixtures/crafted', () => {
    const files = readdirSync(dir).filter((f) => f.endsWith('.pcap')).sort();
    expect(expected.fixtures.map((f) => f.file).sort()).toEqual(files);
  });

  it('judges every code of the alert catalogue in every fixture (regenerate expected.json when the catalogue grows)', () => {
    const catalogue = Object.keys(ALERT_CATALOGUE);
    for (const fixture of expected.fixtures) {
      const judged = new Set([...fixture.mustReport, ...fixture.mayReport, ...fixture.mustNotReport]);
      expect(catalogue.filter((code) => !judged.has(code)), fixture.file).toEqual([]);
    }
  });

  describe.each(expected.fixtures.map((f) => [f.file, f] as const))('%s', (file, fixture) => {
    it(`reports ${fixture.mustReport.join(', ') || 'no alert'} and nothing it must not`, async () => {
      const events = await dissect(join(dir, file));
      const codes = alertCodes(events);
      const missed = fixture.mustReport.filter((code) => !codes.has(code));
      const spurious = fixture.mustNotReport.filter((code) => codes.has(code));
      const known = [...missed.map((c) => isKnown(file, c, 'missed')), ...spurious.map((c) => isKnown(file, c, 'spurious'))].filter((k) => k !== undefined);
      for (const issue of known) console.warn(`known wsdump issue in ${file}: ${issue.kind} ${issue.code}: ${issue.note}`);
      expect(missed.filter((c) => !isKnown(file, c, 'missed')), `${fixture.description} (seen: ${[...codes].join(', ')})`).toEqual([]);
      expect(spurious.filter((c) => !isKnown(file, c, 'spurious')), `${fixture.description} (seen: ${[...codes].join(', ')})`).toEqual([]);

      if (fixture.handshake !== undefined) {
        const handshake = events.find((e) => e.type === 'handshake');
        expect(handshake).toMatchObject(fixture.handshake);
      }
      for (const message of fixture.messages ?? []) {
        const found = events.some(
          (e) =>
            e.type === 'message' &&
            e.message.direction === message.direction &&
            e.message.type === message.type &&
            (message.text === undefined || e.message.text === message.text) &&
            (message.fragments === undefined || e.message.fragments === message.fragments),
        );
        expect(found, `message ${JSON.stringify(message)}`).toBe(true);
      }
    });
  });
});

/** The generator imports the built library; `npm ci` builds dist/ (prepare), so CI always has it. */
const distBuilt = existsSync(join(root, 'dist', 'capture', 'tcp-recorder.js')) && existsSync(join(root, 'dist', 'capture', 'pcap-file-writer.js'));

describe.runIf(distBuilt)('crafted fixture generator', () => {
  it('regenerates byte-identical captures and the same expectations', () => {
    const out = mkdtempSync(join(tmpdir(), 'crafted-'));
    try {
      const run = spawnSync(process.execPath, [join(dir, 'generate.mjs'), '--out', out], { encoding: 'utf8' });
      expect(run.status, run.stderr).toBe(0);
      const generated = readdirSync(out).filter((f) => f.endsWith('.pcap')).sort();
      expect(generated).toEqual(expected.fixtures.map((f) => f.file).sort());
      for (const file of generated) {
        expect(readFileSync(join(out, file)).equals(readFileSync(join(dir, file))), `${file} differs: regenerate with npm run build && node fixtures/crafted/generate.mjs`).toBe(true);
      }
      // mustNotReport follows the alert catalogue, which grows; the rest must match exactly.
      const essentials = (e: Expected): unknown => ({
        fixtures: e.fixtures.map(({ mustNotReport: _ignored, ...rest }) => rest),
        knownIssues: e.knownIssues,
      });
      const fresh = JSON.parse(readFileSync(join(out, 'expected.json'), 'utf8')) as Expected;
      expect(essentials(fresh)).toEqual(essentials(expected));
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});
