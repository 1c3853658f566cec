/**
 * A log line made readable on a terminal: `16:21:24.193 INFO  request method=GET route=/ …`,
 * the level in its colour, then the fields as key=value (objects as JSON, an error's stack on the
 * lines below). Only for a terminal: a pipe, a file or a container gets the JSON line as it is.
 */
/** NO_COLOR (no-color.org): the same layout, without colour. */
const colour = !process.env.NO_COLOR;
const COLOURS: Record<string, string> = colour ? { debug: '\x1b[90m', info: '\x1b[32m', warn: '\x1b[33m', error: '\x1b[31m' } : {};
const RESET = colour ? '\x1b[0m' : '';
const DIM = colour ? '\x1b[2m' : '';

const plain = (value: unknown): string => {
  if (typeof value === 'string') return /[\s"=]/.test(value) || value === '' ? JSON.stringify(value) : value;
  return typeof value === 'object' && value !== null ? JSON.stringify(value) : String(value);
};

/** `line`: one JSON log line, newline included; what is no JSON object is returned as it is. */
export function prettyLine(line: string): string {
  let fields: Record<string, unknown>;
  try {
    fields = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof fields !== 'object' || fields === null) return line;
  const { level, time, msg, ...rest } = fields;
  const label = String(level ?? '');
  const clock = typeof time === 'string' ? time.slice(11, 23) : '';
  const stacks: string[] = [];
  const pairs = Object.entries(rest).map(([k, v]) => {
    const stack = (v as { stack?: unknown } | null)?.stack;
    if (typeof stack === 'string') {
      stacks.push(stack);
      return `${k}=${plain(Object.fromEntries(Object.entries(v as object).filter(([key]) => key !== 'stack')))}`;
    }
    return `${k}=${plain(v)}`;
  });
  const tint = COLOURS[label] ?? '';
  const head = `${DIM}${clock}${RESET} ${tint}${label.toUpperCase().padEnd(5)}${RESET} ${String(msg ?? '')}`;
  const tail = pairs.length > 0 ? ` ${DIM}${pairs.join(' ')}${RESET}` : '';
  return `${head}${tail}\n${stacks.map((s) => `${s.replace(/^/gm, '    ')}\n`).join('')}`;
}
