/**
 * `--columns`: which of the table's columns are shown, in which order. Each view has its own
 * columns (src/render/table.ts names them); the names a user gives are matched against them,
 * with the aliases that keep one list usable in every view: `flags` is FIN, RSV and MASK in the
 * wide frame table and the three are `flags` in the compact one; `type` and `opcode` name the
 * same column of the frame and message tables, and `payload`, `content` and `message` the last
 * one of the frame, message and --events tables.
 */

/** Every name --columns takes, for its help and its error message. */
export const COLUMN_NAMES = ['no', 'time', 'conn', 'dir', 'fin', 'rsv', 'opcode', 'mask', 'flags', 'length', 'key', 'payload', 'type', 'frags', 'content', 'via', 'message'] as const;

const ALIASES: Readonly<Record<string, readonly string[]>> = {
  flags: ['fin', 'rsv', 'mask'],
  fin: ['flags'],
  rsv: ['flags'],
  mask: ['flags'],
  type: ['opcode'],
  opcode: ['type'],
  content: ['payload', 'message'],
  payload: ['content', 'message'],
  message: ['payload', 'content'],
};

/** Checks a --columns list: the names, lower-cased, or the first name it does not know. */
export function parseColumnNames(list: string): { names: string[] } | { unknown: string } {
  const names = list.split(',').map((name) => name.trim().toLowerCase()).filter(Boolean);
  for (const name of names) if (!(COLUMN_NAMES as readonly string[]).includes(name)) return { unknown: name };
  return { names };
}

/**
 * The indices into a view's columns (`ids`, in their default order) of the columns `wanted`
 * names, in the order it names them; names a view does not have are skipped, and a column is
 * shown once.
 */
export function pickColumns(ids: readonly string[], wanted: readonly string[]): number[] {
  const picks: number[] = [];
  for (const name of wanted) {
    const direct = ids.indexOf(name);
    const candidates = direct >= 0 ? [direct] : (ALIASES[name] ?? []).map((alias) => ids.indexOf(alias)).filter((i) => i >= 0);
    for (const index of candidates) if (!picks.includes(index)) picks.push(index);
  }
  return picks;
}
