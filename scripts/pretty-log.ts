// Turns the services' JSON log lines into short readable ones, for `pnpm start` in a terminal.
// Anything that is not a pino line is passed through as it is.

const LEVELS: Record<number, string> = {
  10: 'TRACE',
  20: 'DEBUG',
  30: 'INFO',
  40: 'WARN',
  50: 'ERROR',
  60: 'FATAL',
};
const COLORS: Record<number, string> = { 40: '\x1b[33m', 50: '\x1b[31m', 60: '\x1b[31m' };
/** Fields every line has, shown in the prefix or not at all. */
const HIDDEN = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'v']);

export function prettyLine(line: string, color: boolean): string {
  let entry: Record<string, unknown>;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry !== 'object' || entry === null || typeof entry.level !== 'number') return line;
  const level = entry.level;
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 23) : '';
  const rest = Object.fromEntries(Object.entries(entry).filter(([key]) => !HIDDEN.has(key)));
  const err = rest.err as { stack?: string } | undefined;
  if (err?.stack) delete rest.err;
  const extra = Object.keys(rest).length ? ` ${JSON.stringify(rest)}` : '';
  const head = `${time} ${(LEVELS[level] ?? String(level)).padEnd(5)} [${entry.name ?? '?'}]`;
  const text = `${head} ${entry.msg ?? ''}${extra}${err?.stack ? `\n${err.stack}` : ''}`;
  const start = color ? COLORS[level] : undefined;
  return start ? `${start}${text}\x1b[0m` : text;
}
