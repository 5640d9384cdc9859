/**
 * The terminal views (table, explain) and what they need: chalk, cli-table3 and the renderers.
 * Loaded only when a view asks for them (`await import('./renderers.js')`). `--json` never
 * does, so it loads 51 modules instead of 69: ~30 ms less at its start (measured, issue 8).
 */
import { supportsColor } from 'chalk';
import { EXPLAIN_WIDTH, ExplainRenderer, renderAccept } from '../render/explain.js';
import { RowWriter } from '../render/row.js';
import { TableRenderer } from '../render/table.js';
import { TimelineRenderer } from '../render/timeline.js';
import { wrapBlock } from '../render/wrap.js';
import type { AppFilter } from './app-filter.js';
import type { CliIo, ViewOptions } from './common.js';

export { ExplainRenderer, renderAccept, RowWriter, wrapBlock };

/**
 * Colors only on a terminal, never with NO_COLOR (https://no-color.org: any non-empty value);
 * FORCE_COLOR as chalk reads it (0 or false: none, 1-3 or true: that level, on a terminal or
 * not); --color and --no-color win over both.
 */
export function colorLevel(option: boolean | undefined, io: CliIo): 0 | 1 | 2 | 3 {
  if (option === false) return 0;
  const detected = supportsColor ? supportsColor.level : 0;
  if (option === true) return detected > 0 ? detected : 1;
  if (io.env.NO_COLOR !== undefined && io.env.NO_COLOR !== '') return 0;
  const forced = forcedColor(io.env.FORCE_COLOR);
  if (forced !== null) return forced;
  if (!io.stdout.isTTY || io.env.TERM === 'dumb') return 0;
  // chalk detects from the process's own stdout; the stream we write to is a terminal.
  return detected > 0 ? detected : 1;
}

/** FORCE_COLOR's level as chalk's supports-color reads it, or null when it is not set (or not a level). */
function forcedColor(value: string | undefined): 0 | 1 | 2 | 3 | null {
  if (value === undefined) return null;
  if (value === '' || value === 'true') return 1;
  if (value === 'false') return 0;
  const level = Number.parseInt(value, 10);
  return Number.isNaN(level) ? null : (Math.max(0, Math.min(3, level)) as 0 | 1 | 2 | 3);
}

/** The teaching views fit 80 columns unless --width says otherwise (or the terminal is narrower). */
export function explainWidth(options: ViewOptions, io: CliIo): number {
  if (options.width !== undefined) return options.width;
  return io.stdout.isTTY && io.stdout.columns ? Math.min(io.stdout.columns, EXPLAIN_WIDTH) : EXPLAIN_WIDTH;
}

/** The teaching view of a capture or of live traffic. */
export function makeExplain(options: ViewOptions, io: CliIo): ExplainRenderer {
  return new ExplainRenderer({ colorLevel: colorLevel(options.color, io), width: explainWidth(options, io) });
}

/** The table view (frames, --messages, --events or --summary) the options ask for. */
export function makeTable(options: ViewOptions, io: CliIo, appFilter: AppFilter | null = null): TableRenderer {
  return new TableRenderer({
    colorLevel: colorLevel(options.color, io),
    width: options.width ?? (io.stdout.isTTY && io.stdout.columns ? io.stdout.columns : 120),
    view: options.summary ? 'summary' : options.messages ? 'messages' : options.events ? 'events' : 'frames',
    ...(appFilter !== null ? { hiddenHeartbeats: (conn: number) => appFilter.hidden(conn) } : {}),
    ...(options.payload !== undefined ? { payloadChars: options.payload } : {}),
    ...(options.full ? { full: true } : {}),
    ...(options.columns ? { columns: options.columns } : {}),
  });
}

/** The --timeline view: 80 columns unless --width says otherwise (or the terminal is narrower). */
export function makeTimeline(options: ViewOptions, io: CliIo): TimelineRenderer {
  return new TimelineRenderer({ colorLevel: colorLevel(options.color, io), width: explainWidth(options, io) });
}
