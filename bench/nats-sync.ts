/**
 * What `jetstream { sync_interval: always }` (docker/nats/moa.conf) costs: two nats-servers of
 * this script's own, one with the default interval and one syncing every message before it
 * acknowledges it, each asked the same work in turn (interleaved, BENCH_REPEATS rounds):
 *
 * - `publish`: a stream message acknowledged, one at a time (a visit's 200 waits for one);
 * - `publish ×64`: 64 in flight (a relay pass, a burst of visits);
 * - `kv put`: a bucket put acknowledged, one at a time (a relay's put before the settle).
 *
 * Prints each figure and the ratio always / default (medians over the rounds). The setting
 * needs nats-server 2.10 or later; the one the machine runs may be older, so the binary is given
 * (Debian trixie's package has 2.10.27: `apt-get download nats-server` with trixie in a sources
 * list of its own, then `dpkg-deb -x nats-server_*.deb dir`; the binary is dir/usr/sbin/nats-server):
 *
 *   NATS_SERVER=/path/to/nats-server bun bench/nats-sync.ts
 *   BENCH_MESSAGES=2000 BENCH_REPEATS=3 NATS_SERVER=… bun bench/nats-sync.ts
 */
import { connect, type NatsConnection } from 'nats';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, loadAverage } from './load.ts';

const binary = process.env.NATS_SERVER ?? '/usr/sbin/nats-server';
const messages = Number(process.env.BENCH_MESSAGES ?? 2000);
const repeats = Number(process.env.BENCH_REPEATS ?? 3);
const IN_FLIGHT = 64;
/** A visit event's size, about. */
const payload = new TextEncoder().encode(JSON.stringify({ userId: 12345, itemId: 678, at: new Date().toISOString(), pad: 'x'.repeat(60) }));
const root = mkdtempSync(join(tmpdir(), 'bench-nats-sync-'));

interface Server {
  name: 'default' | 'always';
  proc: ReturnType<typeof Bun.spawn>;
  nc: NatsConnection;
}

async function start(name: Server['name']): Promise<Server> {
  const port = freePort();
  const dir = join(root, name);
  const conf = join(root, `${name}.conf`);
  writeFileSync(conf, `listen: 127.0.0.1:${port}\njetstream {\n  store_dir: ${dir}\n${name === 'always' ? '  sync_interval: always\n' : ''}}\n`);
  const proc = Bun.spawn([binary, '-c', conf], { stdout: 'ignore', stderr: 'pipe' });
  const deadline = performance.now() + 10000;
  for (;;) {
    try {
      const nc = await connect({ servers: `127.0.0.1:${port}`, timeout: 500 });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: 'BENCH', subjects: ['bench.>'] });
      await nc.jetstream().views.kv('bench');
      return { name, proc, nc };
    } catch (error) {
      if (proc.exitCode !== null) throw new Error(`${binary} ended: ${await new Response(proc.stderr as ReadableStream).text()}`);
      if (performance.now() > deadline) throw error;
      await Bun.sleep(100);
    }
  }
}

const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!;
const median = (xs: number[]) => percentile(xs, 0.5);

/** One round of the three works on one server: per-message latencies (ms) and the 64-in-flight rate. */
async function round(server: Server) {
  const js = server.nc.jetstream();
  const kv = await js.views.kv('bench');
  const one: number[] = [];
  for (let i = 0; i < messages; i++) {
    const t = performance.now();
    await js.publish('bench.visit', payload);
    one.push(performance.now() - t);
  }
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next++ < messages * 4) await js.publish('bench.visit', payload);
    }),
  );
  const rate = (messages * 4) / ((performance.now() - started) / 1000);
  const puts: number[] = [];
  for (let i = 0; i < messages; i++) {
    const t = performance.now();
    await kv.put(`k${i % 500}`, payload);
    puts.push(performance.now() - t);
  }
  return { publishP50: median(one), publishP99: percentile(one, 0.99), rate, putP50: median(puts), putP99: percentile(puts, 0.99) };
}

const servers = [await start('default'), await start('always')];
try {
  console.log(`nats-server ${binary}: ${messages} messages per work, ${repeats} rounds, ${loadAverage()}`);
  const results: Record<Server['name'], Awaited<ReturnType<typeof round>>[]> = { default: [], always: [] };
  await round(servers[0]!); // warm-up, both
  await round(servers[1]!);
  for (let r = 0; r < repeats; r++) {
    // (the order alternates: neither always runs on a machine the other has just warmed)
    for (const s of r % 2 ? [...servers].reverse() : servers) results[s.name].push(await round(s));
  }
  const row = (what: string, key: keyof Awaited<ReturnType<typeof round>>, unit: string, digits: number) => {
    const [d, a] = [median(results.default.map((x) => x[key])), median(results.always.map((x) => x[key]))];
    console.log(`| ${what} | ${d.toFixed(digits)} ${unit} | ${a.toFixed(digits)} ${unit} | ${(a / d).toFixed(2)} |`);
  };
  console.log('| work | default | sync_interval: always | always / default |');
  console.log('|---|---|---|---|');
  row('publish, one at a time: p50', 'publishP50', 'ms', 3);
  row('publish, one at a time: p99', 'publishP99', 'ms', 3);
  row(`publish, ${IN_FLIGHT} in flight`, 'rate', 'msg/s', 0);
  row('kv put, one at a time: p50', 'putP50', 'ms', 3);
  row('kv put, one at a time: p99', 'putP99', 'ms', 3);
  console.log(`after: ${loadAverage()}`);
} finally {
  for (const s of servers) {
    await s.nc.close().catch(() => {});
    s.proc.kill();
    await s.proc.exited;
  }
  rmSync(root, { recursive: true, force: true });
}
