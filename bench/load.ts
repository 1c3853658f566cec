import type { Subprocess } from 'bun';
import { loadavg } from 'node:os';
import { join } from 'node:path';

/**
 * A small closed-loop HTTP load generator: `connections` workers, each sending the next request
 * as soon as the previous answered, for `seconds`. The same generator measures the system and
 * its baseline in the same run, so their ratio is what matters, not the absolute figures.
 */
export interface LoadResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
}

export async function load(opts: {
  url: string;
  /** Request headers; a function gives each request its own (e.g. a different user's token). */
  headers?: Record<string, string> | ((n: number) => Record<string, string>);
  /** GET unless said otherwise; `body` is sent as it is. */
  method?: string;
  body?: string;
  connections: number;
  seconds: number;
  check?: (status: number) => boolean;
}): Promise<LoadResult> {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + opts.seconds * 1000;
  const check = opts.check ?? ((s) => s === 200);
  const headersOf = typeof opts.headers === 'function' ? opts.headers : () => opts.headers as Record<string, string> | undefined;
  let sent = 0;
  const worker = async () => {
    while (performance.now() < until) {
      const t = performance.now();
      try {
        const res = await fetch(opts.url, { method: opts.method, headers: headersOf(sent++), body: opts.body });
        await res.arrayBuffer();
        if (!check(res.status)) errors++;
      } catch {
        errors++;
      }
      latencies.push(performance.now() - t);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: opts.connections }, worker));
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? 0;
  return { requests: latencies.length, errors, rps: latencies.length / elapsed, p50: at(0.5), p99: at(0.99) };
}

export const fmt = (r: LoadResult) =>
  `${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50.toFixed(2).padStart(6)} ms  p99 ${r.p99.toFixed(2).padStart(6)} ms  errors ${r.errors}`;

/** A free TCP port on the loopback interface. */
export function freePort(): number {
  const s = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response() });
  const port = s.port!;
  s.stop(true);
  return port;
}

/** Polls `url` until it answers (any status) or `ms` pass. */
export async function waitForHttp(url: string, ms = 30000, headers?: Record<string, string>) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    try {
      await fetch(url, { headers });
      return;
    } catch {
      await Bun.sleep(100);
    }
  }
  throw new Error(`${url} did not come up within ${ms} ms`);
}

/**
 * The baseline every bench compares with: raw-server.ts (plain Bun.serve sending `body`, written
 * to `file`) on `port`, once it answers. The caller stops `child`.
 */
export async function startRawServer(opts: { body: string; file: string; port?: number; stdout?: 'inherit' | 'ignore' }): Promise<{ child: Subprocess; port: number; url: string }> {
  await Bun.write(opts.file, opts.body);
  const port = opts.port ?? freePort();
  const child = Bun.spawn(['bun', join(import.meta.dir, 'raw-server.ts'), `${port}`, opts.file], { stdout: opts.stdout ?? 'inherit', stderr: 'inherit' });
  const url = `http://127.0.0.1:${port}/`;
  try {
    await waitForHttp(url);
  } catch (error) {
    child.kill();
    throw error;
  }
  return { child, port, url };
}

/** `load average 0.52, 0.61, 0.70 (2 CPUs)`: how busy the machine was, beside the figures. */
export const loadAverage = (): string => `load average ${loadavg().map((l) => l.toFixed(2)).join(', ')} (${navigator.hardwareConcurrency} CPUs)`;

/** What the system wrote to its log file (stderr): its lines, and its warnings and errors apart. */
export async function systemLog(file: string): Promise<string> {
  const text = await Bun.file(file).text().catch(() => '');
  const lines = text.split('\n').filter(Boolean);
  const loud = lines.filter((l) => /"level":"(warn|error)"/.test(l));
  return `system log: ${lines.length} lines, ${loud.length} warn/error${loud.length > 0 ? `; the last:\n${loud.slice(-3).join('\n')}` : ''}`;
}

/**
 * Drops every database whose name starts with `${prefix}_`: all a bench's split processes made,
 * whichever modules they ran (the local split starts every module unless MODULES says otherwise).
 */
export async function dropDatabases(prefix: string, url = 'postgres://postgres@127.0.0.1:5432/postgres') {
  const { default: pg } = await import('pg');
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>('SELECT datname FROM pg_database WHERE starts_with(datname, $1)', [`${prefix}_`]);
    for (const { datname } of rows) await admin.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
  } finally {
    await admin.end();
  }
}
