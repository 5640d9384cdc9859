/**
 * --har FILE: the HAR 1.2 document of src/render/har.ts written as the events come, entry by
 * entry, so an interrupted run still leaves every finished entry on disk (and memory holds only
 * the open WebSocket connections' messages).
 */
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import type { DissectEvent } from '../engine/events.js';
import { HarWriter } from '../render/har.js';
import { escapeText } from '../render/escape.js';
import { UsageError } from './common.js';

export interface HarFile {
  event(e: DissectEvent): void;
  /** Writes the open WebSocket connections and the end of the document, and closes the file. */
  close(): void;
}

function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function openHarFile(path: string, program: 'wsdump' | 'wsproxy'): HarFile {
  let fd: number;
  try {
    fd = openSync(path, 'w');
  } catch (error) {
    throw new UsageError(`cannot write --har ${escapeText(path, 200)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  const writer = new HarWriter({ name: program, version: packageVersion() });
  writeSync(fd, writer.head());
  let open = true;
  return {
    event(e) {
      if (!open) return;
      const text = writer.event(e);
      if (text !== '') writeSync(fd, text);
    },
    close() {
      if (!open) return;
      open = false;
      writeSync(fd, writer.finish());
      closeSync(fd);
    },
  };
}
