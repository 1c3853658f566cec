import { describe, expect, test } from 'bun:test';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { allModules } from '../modules/index.ts';
import { parseConfig } from '../platform/config.ts';
import { planSplit } from '../platform/split.ts';

/**
 * No Docker engine runs here, so compose.yaml and the Dockerfiles are checked statically against
 * the code: what they set is what the configuration accepts, and what they copy exists.
 */
const root = join(import.meta.dir, '..');
type Service = {
  image?: string;
  build?: { context: string; dockerfile: string; args?: Record<string, string> };
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  healthcheck?: { test: string[] };
  restart?: string;
  depends_on?: Record<string, { condition: string; required?: boolean }>;
  volumes?: unknown;
};
const compose = Bun.YAML.parse(readFileSync(join(root, 'compose.yaml'), 'utf8')) as { services: Record<string, Service>; volumes?: unknown };
const services = compose.services;
const shop = ['item', 'alarm', 'user'];

/** COPY sources of a Dockerfile (build-stage copies excluded), with ARG values substituted. */
function copiedPaths(dockerfile: string, args: Record<string, string> = {}): string[] {
  return readFileSync(join(root, dockerfile), 'utf8')
    .split('\n')
    .filter((l) => /^COPY\s/.test(l) && !l.includes('--from='))
    .flatMap((l) => l.trim().split(/\s+/).slice(1, -1))
    .map((p) => p.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? `<unset ${name}>`));
}

describe('compose.yaml', () => {
  test('has NATS, a database per domain and an API process per domain', () => {
    for (const name of ['nats', ...shop.map((m) => `postgres-${m}`), ...shop.map((m) => `api-${m}`)]) {
      expect(services[name]).toBeDefined();
    }
  });

  test('mounts no volume anywhere (the assignment forbids them)', () => {
    expect(compose.volumes).toBeUndefined();
    for (const [name, s] of Object.entries(services)) expect({ name, volumes: s.volumes }).toEqual({ name, volumes: undefined });
  });

  test('runs NATS with JetStream and a JetStream-aware healthcheck', () => {
    const nats = services.nats!;
    expect(nats.image).toMatch(/^nats:2\./);
    expect(nats.command).toContain('--jetstream');
    expect(nats.healthcheck?.test.join(' ')).toContain('healthz?js-enabled-only=true');
    expect(nats.command).toContain('--http_port');
  });

  for (const m of shop) {
    test(`postgres-${m} is built with ${m}'s own init_database.sql and has a healthcheck`, () => {
      const s = services[`postgres-${m}`]!;
      expect(s.build?.args?.MODULE).toBe(m);
      expect(existsSync(join(root, s.build!.dockerfile))).toBe(true);
      const copies = copiedPaths(s.build!.dockerfile, s.build!.args);
      expect(copies).toEqual([`modules/${m}/init_database.sql`]);
      for (const p of copies) expect(existsSync(join(root, p))).toBe(true);
      expect(readFileSync(join(root, s.build!.dockerfile), 'utf8')).toContain('/docker-entrypoint-initdb.d/');
      expect(s.healthcheck?.test.join(' ')).toContain('pg_isready');
      expect(s.restart).toBe('unless-stopped');
    });

    test(`api-${m} sets only variables the configuration accepts, for module ${m} alone`, () => {
      const s = services[`api-${m}`]!;
      const env = s.environment!;
      const config = parseConfig(env, allModules);
      expect(config.modules.map((c) => c.name)).toEqual([m]);
      expect(config.natsUrl).toBe('nats://nats:4222');
      const url = new URL(config.modules[0]!.databaseUrl!);
      expect(url.hostname).toBe(`postgres-${m}`);
      // The same variables the local split command sets (platform/split.ts), nothing else.
      const [planned] = planSplit({ pgUrl: 'postgres://x@h:5432/postgres', dbPrefix: 'p', natsUrl: 'nats://nats:4222', modules: [m] });
      expect(Object.keys(env).sort()).toEqual(Object.keys(planned!.env).sort());
    });

    test(`api-${m} publishes the contract's port and is the one image selected by MODULES`, () => {
      const s = services[`api-${m}`]!;
      const port = allModules.find((d) => d.name === m)!.defaultPort;
      expect(s.environment![`${m.toUpperCase()}_PORT`]).toBe(String(port));
      expect(s.ports).toEqual([`${port}:${port}`]);
      expect(s.build?.dockerfile).toBe('docker/Dockerfile');
      expect(s.restart).toBe('unless-stopped');
      expect(s.healthcheck?.test).toEqual(['CMD', 'bun', 'platform/healthcheck.ts']);
      expect(Object.keys(s.depends_on ?? {}).sort()).toEqual(['nats', `postgres-${m}`]);
      for (const dep of Object.values(s.depends_on!)) expect(dep.condition).toBe('service_healthy');
    });
  }

  test('commenting out any one service leaves every dependency of the others optional', () => {
    for (const removed of Object.keys(services)) {
      for (const [name, s] of Object.entries(services)) {
        if (name === removed) continue;
        const dep = s.depends_on?.[removed];
        if (dep) expect({ name, removed, required: dep.required }).toEqual({ name, removed, required: false });
      }
    }
  });
});

describe('docker/Dockerfile', () => {
  const text = readFileSync(join(root, 'docker/Dockerfile'), 'utf8');

  test('is multi-stage and installs from the lockfile', () => {
    expect(text.match(/^FROM /gm)?.length).toBeGreaterThanOrEqual(2);
    expect(text).toContain('bun install --frozen-lockfile --production');
  });

  test('copies only paths that exist', () => {
    const copies = copiedPaths('docker/Dockerfile');
    expect(copies.length).toBeGreaterThan(0);
    for (const p of copies) expect({ p, exists: existsSync(join(root, p)) }).toEqual({ p, exists: true });
  });

  test('starts the process entry and checks health with the healthcheck script', () => {
    expect(text).toContain('CMD ["bun", "platform/main.ts"]');
    expect(text).toContain('platform/healthcheck.ts');
    expect(existsSync(join(root, 'platform/main.ts'))).toBe(true);
    expect(existsSync(join(root, 'platform/healthcheck.ts'))).toBe(true);
  });
});
