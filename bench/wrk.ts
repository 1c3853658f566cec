/**
 * `wrk` (C, epoll) as the load generator of the benches that need more requests per second than
 * a Bun client can send on a shared machine: the generator's own CPU is then small beside the
 * server's. `apt-get install -y wrk`. Each request may carry its own path and headers (a Lua
 * script cycles through them), so a system cannot answer from one user's state.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LoadResult } from './load.ts';

export interface WrkRequest {
  method?: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
}

const lua = (s: string) => JSON.stringify(s); // a JSON string is a valid Lua string literal here (ASCII)

/** Runs wrk against `base` (http://host:port) with `requests` in turn; p50/p99 from --latency. */
export async function wrk(opts: { base: string; requests: WrkRequest[]; connections: number; seconds: number; threads?: number }): Promise<WrkResult> {
  const dir = mkdtempSync(join(tmpdir(), 'wrk-'));
  try {
    const script = join(dir, 'requests.lua');
    const entries = opts.requests.map((r) => {
      const headers = Object.entries(r.headers ?? {}).map(([k, v]) => `[${lua(k)}]=${lua(v)}`).join(',');
      return `wrk.format(${lua(r.method ?? 'GET')}, ${lua(r.path)}, {${headers}}, ${r.body === undefined ? 'nil' : lua(r.body)})`;
    });
    writeFileSync(
      script,
      `local reqs = {}\ninit = function(args)\n${entries.map((e) => `  reqs[#reqs+1] = ${e}`).join('\n')}\n  -- each thread starts elsewhere in the list\n  n = math.random(#reqs)\nend\nrequest = function()\n  n = n % #reqs + 1\n  return reqs[n]\nend\n`,
    );
    const proc = Bun.spawn(['wrk', '-t', String(opts.threads ?? 2), '-c', String(opts.connections), '-d', `${opts.seconds}s`, '--latency', '-s', script, opts.base], { stdout: 'pipe', stderr: 'pipe' });
    const [out, err] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
    if ((await proc.exited) !== 0) throw new Error(`wrk failed: ${err}${out}`);
    return parseWrk(out);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** `errors` = non-2xx answers + socket errors; `timeouts`: requests wrk gave up on after 2 s. */
export type WrkResult = LoadResult & { non2xx: number; timeouts: number };

const ms = (v: string, unit: string) => Number(v) * (unit === 'us' ? 0.001 : unit === 's' ? 1000 : unit === 'm' ? 60000 : 1);

export function parseWrk(out: string): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s+${p}%\\s+([0-9.]+)(us|ms|s|m)\\s*$`, 'm').exec(out);
    return m ? ms(m[1]!, m[2]!) : NaN;
  };
  const requests = Number(/([0-9]+) requests in/.exec(out)?.[1] ?? NaN);
  const rps = Number(/Requests\/sec:\s+([0-9.]+)/.exec(out)?.[1] ?? NaN);
  const non2xx = Number(/Non-2xx or 3xx responses: ([0-9]+)/.exec(out)?.[1] ?? 0);
  const socket = /Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)/.exec(out);
  const socketErrors = socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
  return { requests, rps, p50: pct('50'), p99: pct('99'), errors: non2xx + socketErrors, non2xx, timeouts: socket ? Number(socket[4]) : 0 };
}

/** A free port in the range the benches may use (BENCH_PORTS=35000-35999 by default). */
export async function benchPort(): Promise<number> {
  const [from, to] = (process.env.BENCH_PORTS ?? '35000-35999').split('-').map(Number) as [number, number];
  for (let i = 0; i < 200; i++) {
    const port = from + Math.floor(Math.random() * (to - from + 1));
    const free = await new Promise<boolean>((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port in BENCH_PORTS');
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (100 Hz)
  } catch {
    return NaN;
  }
}
