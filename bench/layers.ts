/**
 * What each platform layer adds to `GET /` on the item service, in microseconds of CPU per
 * request: the stacks of bench/layers-server.ts (the floor, then routing, auth, the real route,
 * metrics, edge, request context, logging, each around the one before) served by one process,
 * each driven by wrk in turn — every stack once per round, BENCH_REPEATS rounds — and the CPU
 * that process spent divided by the requests it answered. A layer's cost is its stack's figure
 * less the one below it (medians over the rounds). CPU per request, not requests per second:
 * wrk and the machine's other load share the cores, so a rate would measure them too.
 *
 *   bun bench/layers.ts
 *   bun bench/layers.ts --otlp     # tracing on: spans exported to a local OTLP/HTTP receiver
 *   BENCH_SECONDS=4 BENCH_CONNECTIONS=32 BENCH_REPEATS=3 bun bench/layers.ts
 *
 * With --otlp the request context layer starts, ends and exports a span per request: its figure
 * against a run without is what tracing costs (printed, not a target).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAverage, systemLog } from './load.ts';
import { cpuSeconds, wrk, type WrkRequest } from './wrk.ts';

const seconds = Number(process.env.BENCH_SECONDS ?? 4);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 32);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const token = '4a49145e-45a8-4845-af45-1af2a59bb044';
const dataDir = mkdtempSync(join(tmpdir(), 'bench-layers-'));
const logFile = join(dataDir, 'server.log');
const otlp = process.argv.includes('--otlp');
// A collector that takes every export and counts the bytes (what it receives is not checked here).
let exported = 0;
const collector = otlp
  ? Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: async (request) => ((exported += (await request.arrayBuffer()).byteLength), new Response('{}', { headers: { 'content-type': 'application/json' } })) })
  : undefined;
const server = Bun.spawn(['bun', join(import.meta.dir, 'layers-server.ts'), dataDir, token], {
  env: {
    ...process.env,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'info',
    OTEL_EXPORTER_OTLP_ENDPOINT: collector ? `http://127.0.0.1:${collector.port}` : '',
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: '',
  },
  stdout: 'pipe',
  stderr: Bun.file(logFile),
});

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

try {
  const reader = server.stdout.getReader();
  let out = '';
  while (!out.includes('\n')) {
    const { done, value } = await reader.read();
    if (done) throw new Error(`the layers server ended before it served: ${await systemLog(logFile)}`);
    out += new TextDecoder().decode(value);
  }
  const { ports, tokens, bytes } = JSON.parse(out) as { ports: Record<string, number>; tokens: string[]; bytes: number };
  // Every stack is asked GET / by every user in turn (the item list with each one's alarms).
  const requests: WrkRequest[] = tokens.map((t) => ({ path: '/', headers: { 'USER-TOKEN': t } }));
  const names = Object.keys(ports);
  const cpu: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  const rps: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) await wrk({ base: `http://127.0.0.1:${ports[name]}`, requests, connections, seconds: 1 }); // warm-up
  for (let round = 0; round < repeats; round++) {
    for (const name of names) {
      const before = cpuSeconds(server.pid);
      const r = await wrk({ base: `http://127.0.0.1:${ports[name]}`, requests, connections, seconds });
      cpu[name]!.push(((cpuSeconds(server.pid) - before) * 1e6) / r.requests);
      rps[name]!.push(r.rps);
      if (r.errors > 0) console.log(`${name}: ${r.errors} errors`);
    }
  }
  console.log(`GET / on the item service (${bytes} bytes, ${tokens.length} users in turn), embedded, tracing ${otlp ? 'on (OTLP/HTTP to a local collector)' : 'off'}, one stack of layers per port, wrk ${connections} connections, ${seconds} s per stack and round, ${repeats} rounds, ${loadAverage()}`);
  console.log('stack      CPU µs/request (median; each round)         adds   req/s (median)');
  let below: number | undefined;
  for (const name of names) {
    const m = median(cpu[name]!);
    const adds = below === undefined ? '' : `${m - below >= 0 ? '+' : ''}${(m - below).toFixed(1)}`;
    console.log(`${name.padEnd(10)} ${m.toFixed(1).padStart(6)}  (${cpu[name]!.map((c) => c.toFixed(1)).join(', ')})`.padEnd(52) + adds.padStart(6) + median(rps[name]!).toFixed(0).padStart(9));
    below = m;
  }
  console.log(`whole port over the floor: +${(median(cpu.logging!) - median(cpu.floor!)).toFixed(1)} µs; over the route: +${(median(cpu.logging!) - median(cpu.route!)).toFixed(1)} µs`);
  console.log(await systemLog(logFile));
  if (collector) console.log(`OTLP bytes received: ${exported}`);
} finally {
  server.kill('SIGTERM');
  await server.exited;
  collector?.stop(true);
  rmSync(dataDir, { recursive: true, force: true });
}

