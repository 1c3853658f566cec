import { afterAll, expect, test } from 'bun:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, freePort } from './support/split.ts';

/**
 * The embedded mode as `bun run start` runs it — all seven modules in one process, seven PGlite
 * databases, the in-process bus — holds at most 512 MB once started (it was 1.3 GB: PGlite's
 * default 128 MB of shared buffers, touched as each database is set up).
 */
const dir = mkdtempSync(join(tmpdir(), 'embedded-memory-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test('all seven modules embedded: ≤ 512 MB RSS after start, on a new data directory and again on a restart', async () => {
  const ports = { item: freePort(), alarm: freePort(), user: freePort(), minifb: freePort() };
  const env = {
    ...process.env,
    DATA_DIR: dir,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'warn',
    ITEM_PORT: String(ports.item),
    ALARM_PORT: String(ports.alarm),
    USER_PORT: String(ports.user),
    ...Object.fromEntries(['ACCOUNT', 'FEED', 'NOTIFICATION', 'STATS'].map((m) => [`${m}_PORT`, String(ports.minifb)])),
  };
  for (const start of ['new', 'restart']) {
    const proc = Bun.spawn(['bun', join(import.meta.dir, '..', 'platform', 'main.ts')], { env, stdout: 'ignore', stderr: 'inherit' });
    try {
      for (const port of Object.values(ports)) await eventually(async () => (await fetch(`http://127.0.0.1:${port}/openapi.json`)).ok, 90000, `port ${port} up (${start})`);
      const rssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${proc.pid}/status`, 'utf8'))![1]) / 1024;
      expect({ start, underLimit: rssMb <= 512, rssMb: Math.round(rssMb) }).toMatchObject({ start, underLimit: true });
    } finally {
      proc.kill('SIGTERM');
      await proc.exited;
    }
  }
}, 240000);
