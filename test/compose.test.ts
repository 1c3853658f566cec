import { describe, expect, test } from 'bun:test';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { allModules } from '../modules/index.ts';
import { parseConfig } from '../platform/config.ts';
import { accountSettings } from '../modules/account/settings.ts';
import { jwtSecret } from '../platform/secrets.ts';
import { createLogger } from '../platform/observability/log.ts';
import { planProxy, planSplit, type MinifbSecrets } from '../platform/dev/split.ts';

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
  tmpfs?: string[];
  stop_grace_period?: string;
};
const compose = Bun.YAML.parse(readFileSync(join(root, 'compose.yaml'), 'utf8')) as { services: Record<string, Service>; volumes?: unknown };
const services = compose.services;
const shop = ['item', 'alarm', 'user'];
const NATS_NODES = ['nats-1', 'nats-2', 'nats-3'];
const NATS_URL = NATS_NODES.map((n) => `nats://${n}:4222`).join(',');
const minifb = allModules.filter((m) => m.product === 'minifb').map((m) => m.name);
const SECRETS: MinifbSecrets = { jwtSecret: 's'.repeat(40), adminId: 'admin', adminPassword: 'a long password' };
/** The API services that run `module` (by their MODULES). */
const servicesOf = (module: string) => Object.entries(services).filter(([name, s]) => name.startsWith('api-') && s.environment?.MODULES === module);
/** Compose's `${VAR:-default}` as compose resolves it when VAR is unset. */
const resolved = (env: Record<string, string>) =>
  Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v.replace(/\$\{\w+:-([^}]*)\}/g, '$1')]));

/** Every API container's health check: docker/healthcheck.sh (sh and curl on /readyz), never a Bun process. */
const HEALTHCHECK = ['CMD', 'sh', 'docker/healthcheck.sh'];

/** A stopping API process gets this long from compose before a SIGKILL (`15s`). */
const graceSeconds = (s: Service) => Number(/^(\d+)s$/.exec(s.stop_grace_period ?? '')?.[1] ?? 10);

/** COPY sources of a Dockerfile (build-stage copies excluded), with ARG values substituted. */
function copiedPaths(dockerfile: string, args: Record<string, string> = {}): string[] {
  return readFileSync(join(root, dockerfile), 'utf8')
    .split('\n')
    .filter((l) => /^COPY\s/.test(l) && !l.includes('--from='))
    .flatMap((l) => l.trim().split(/\s+/).slice(1, -1))
    .map((p) => p.replace(/\$\{(\w+)\}/g, (_, name: string) => args[name] ?? `<unset ${name}>`));
}

describe('compose.yaml', () => {
  test('has NATS, a database per homeshopping domain and an API process per domain', () => {
    for (const name of [...NATS_NODES, ...shop.map((m) => `postgres-${m}`), ...shop.map((m) => `api-${m}`)]) {
      expect(services[name]).toBeDefined();
    }
  });

  test('mounts no volume anywhere (the assignment forbids them)', () => {
    expect(compose.volumes).toBeUndefined();
    for (const [name, s] of Object.entries(services)) expect({ name, volumes: s.volumes }).toEqual({ name, volumes: undefined });
  });

  test('mounts a tmpfs over the postgres image\'s VOLUME, so no anonymous volume outlives `down`', () => {
    const databases = Object.keys(services).filter((n) => n.startsWith('postgres-'));
    expect(databases.length).toBe(shop.length + minifb.length);
    for (const name of databases) expect({ name, tmpfs: services[name]!.tmpfs }).toEqual({ name, tmpfs: ['/var/lib/postgresql/data'] });
  });

  test('publishes every port on 127.0.0.1 only, and no NATS client port on the 4222 a host NATS uses', () => {
    const published = Object.entries(services).flatMap(([name, s]) => (s.ports ?? []).map((p) => ({ name, p })));
    expect(published.length).toBeGreaterThan(0);
    for (const { name, p } of published) expect({ name, p, local: p.startsWith('127.0.0.1:') }).toEqual({ name, p, local: true });
    for (const n of NATS_NODES) expect(services[n]!.ports!.map((p) => p.split(':')[1])).not.toContain('4222');
  });

  test('runs a maintained NATS (2.12.4 or later) whose JetStream syncs every write before its ack', () => {
    const dockerfile = readFileSync(join(root, 'docker/nats/Dockerfile'), 'utf8');
    const [, minor, patch] = /^FROM nats:2\.(\d+)\.(\d+)-alpine$/m.exec(dockerfile)!.map(Number);
    expect(minor! > 12 || (minor === 12 && patch! >= 4)).toBe(true);
    expect(copiedPaths('docker/nats/Dockerfile')).toEqual(['docker/nats/moa.conf']);
    expect(readFileSync(join(root, 'docker/nats/moa.conf'), 'utf8')).toMatch(/jetstream \{[^}]*sync_interval: always[^}]*\}/);
    for (const n of NATS_NODES) {
      expect(services[n]!.build?.dockerfile).toBe('docker/nats/Dockerfile');
      expect(services[n]!.command!.slice(0, 2)).toEqual(['--config', '/etc/nats/moa.conf']);
    }
  });

  test('runs NATS as a 3-node cluster: each node with JetStream, its own store, routes to the other two', () => {
    expect(Object.keys(services).filter((n) => services[n]!.build?.dockerfile === 'docker/nats/Dockerfile').sort()).toEqual(NATS_NODES);
    const clusterNames = new Set<string>();
    for (const name of NATS_NODES) {
      const nats = services[name]!;
      const cmd = nats.command!;
      const option = (flag: string) => {
        const at = cmd.indexOf(flag);
        expect({ name, flag, present: at >= 0 && at + 1 < cmd.length }).toEqual({ name, flag, present: true });
        return cmd[at + 1]!;
      };
      expect(cmd).toContain('--jetstream');
      // A store in the node's own container: no two nodes share one (and no volume, above).
      expect(option('--store_dir')).toMatch(/^\/data\//);
      expect(option('--server_name')).toBe(name);
      clusterNames.add(option('--cluster_name'));
      const listen = new URL(option('--cluster'));
      const routes = option('--routes').split(',').map((r) => new URL(r));
      // Routes name the other two nodes, on the port their --cluster listens on.
      expect(routes.map((r) => r.hostname).sort()).toEqual(NATS_NODES.filter((n) => n !== name));
      for (const r of routes) {
        expect(r.protocol).toBe('nats:');
        expect(r.port).toBe(new URL(services[r.hostname]!.command![services[r.hostname]!.command!.indexOf('--cluster') + 1]!).port);
      }
      expect(listen.port).toBe('6222');
      expect(nats.healthcheck?.test.join(' ')).toContain('healthz?js-enabled-only=true');
      expect(cmd).toContain('--http_port');
      expect(nats.restart).toBe('unless-stopped');
    }
    expect(clusterNames.size).toBe(1);
    // Each node's clients on a port of its own outside.
    expect(new Set(NATS_NODES.map((n) => services[n]!.ports?.[0]?.split(':').at(-2))).size).toBe(3);
  });

  test('every API process lists all three NATS servers and has 3 replicas for what it creates', () => {
    const apis = Object.entries(services).filter(([name]) => name.startsWith('api-'));
    expect(apis.length).toBe(shop.length + minifb.length + 1);
    for (const [name, s] of apis) {
      const config = parseConfig(resolved(s.environment!), allModules);
      expect({ name, servers: config.natsUrl!.split(',').map((u) => new URL(u).host).sort() }).toEqual({ name, servers: NATS_NODES.map((n) => `${n}:4222`) });
      expect({ name, replicas: config.natsReplicas }).toEqual({ name, replicas: 3 });
      expect({ name, depends: Object.keys(s.depends_on ?? {}).filter((d) => d.startsWith('nats')).sort() }).toEqual({ name, depends: NATS_NODES });
    }
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
      expect(config.natsUrl).toBe(NATS_URL);
      const url = new URL(config.modules[0]!.databaseUrl!);
      expect(url.hostname).toBe(`postgres-${m}`);
      // The same variables the local split command sets (platform/dev/split.ts), nothing else.
      const [planned] = planSplit({ pgUrl: 'postgres://x@h:5432/postgres', dbPrefix: 'p', natsUrl: NATS_URL, natsReplicas: 3, modules: [m] });
      expect(Object.keys(env).sort()).toEqual(Object.keys(planned!.env).sort());
    });

    test(`api-${m} publishes the contract's port and is the one image selected by MODULES`, () => {
      const s = services[`api-${m}`]!;
      expect(graceSeconds(s)).toBeGreaterThan(parseConfig({}, allModules).shutdownGraceMs / 1000);
      const port = allModules.find((d) => d.name === m)!.defaultPort;
      expect(s.environment![`${m.toUpperCase()}_PORT`]).toBe(String(port));
      expect(s.ports).toEqual([`127.0.0.1:${port}:${port}`]);
      expect(s.build?.dockerfile).toBe('docker/Dockerfile');
      expect(s.restart).toBe('unless-stopped');
      expect(s.healthcheck?.test).toEqual(HEALTHCHECK);
      expect(Object.keys(s.depends_on ?? {}).sort()).toEqual([...NATS_NODES, `postgres-${m}`]);
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

describe('compose.yaml: minifb', () => {
  test('has a database and an API service per minifb domain, two for the feed, and the proxy', () => {
    for (const m of minifb) {
      // The same pinned Postgres as the homeshopping databases' image.
      expect(`FROM ${services[`postgres-${m}`]?.image}`).toBe(readFileSync(join(root, 'docker/postgres/Dockerfile'), 'utf8').match(/^FROM .+$/m)![0]);
      expect(services[`postgres-${m}`]?.healthcheck?.test.join(' ')).toContain('pg_isready');
      expect(servicesOf(m).length).toBe(m === 'feed' ? 2 : 1);
    }
    expect(servicesOf('feed').map(([name]) => name).sort()).toEqual(['api-feed-1', 'api-feed-2']);
    expect(services['minifb-proxy']).toBeDefined();
  });

  for (const m of minifb) {
    test(`api services of ${m} set only variables the configuration accepts, the split plan's, on port 8000 inside`, () => {
      for (const [name, s] of servicesOf(m)) {
        const env = resolved(s.environment!);
        const config = parseConfig(env, allModules);
        expect({ name, modules: config.modules.map((c) => [c.name, c.port]) }).toEqual({ name, modules: [[m, 8000]] });
        expect(config.natsUrl).toBe(NATS_URL);
        expect(new URL(config.modules[0]!.databaseUrl!).hostname).toBe(`postgres-${m}`);
        // The minifb settings a split process refuses to start without are there and valid.
        expect(jwtSecret(config, createLogger()).length).toBeGreaterThanOrEqual(32);
        expect(accountSettings(config).developmentAdmin).toBe(false);
        const [planned] = planSplit({ pgUrl: 'postgres://x@h:5432/postgres', dbPrefix: 'p', natsUrl: NATS_URL, natsReplicas: 3, modules: [m], minifb: SECRETS });
        expect(Object.keys(env).sort()).toEqual(Object.keys(planned!.env).sort());
        // Only the proxy is reached from outside.
        expect(s.ports).toBeUndefined();
        expect(s.build?.dockerfile).toBe('docker/Dockerfile');
        expect(s.healthcheck?.test).toEqual(HEALTHCHECK);
        expect(Object.keys(s.depends_on ?? {}).sort()).toEqual([...NATS_NODES, `postgres-${m}`]);
        expect(graceSeconds(s)).toBeGreaterThan(parseConfig({}, allModules).shutdownGraceMs / 1000);
      }
    });
  }

  test('every minifb process gets the same JWT secret and administrator', () => {
    const envs = minifb.flatMap((m) => servicesOf(m).map(([, s]) => s.environment!));
    for (const key of ['JWT_SECRET', 'MINIFB_ADMIN_ID', 'MINIFB_ADMIN_PASSWORD']) expect(new Set(envs.map((e) => e[key])).size).toBe(1);
  });

  test('the proxy publishes 8000, is built with the nginx configuration, and waits for no one', () => {
    const proxy = services['minifb-proxy']!;
    expect(proxy.ports).toEqual(['127.0.0.1:8000:8000', '127.0.0.1:9100:9100']);
    expect(proxy.build?.dockerfile).toBe('docker/nginx/Dockerfile');
    expect(copiedPaths('docker/nginx/Dockerfile')).toEqual(['docker/nginx/minifb.conf']);
    expect(readFileSync(join(root, 'docker/nginx/Dockerfile'), 'utf8')).toMatch(/^FROM nginx:1\.(2[89]|[3-9]\d)/m);
    expect(proxy.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:8080/health');
    expect(Object.keys(proxy.depends_on!).sort()).toEqual(minifb.flatMap((m) => servicesOf(m).map(([name]) => name)).sort());
  });
});

describe('docker/nginx/minifb.conf', () => {
  const conf = readFileSync(join(root, 'docker/nginx/minifb.conf'), 'utf8');
  const upstreams = new Map(
    [...conf.matchAll(/upstream (\w+) \{([^}]*)\}/g)].map((m) => [m[1]!, [...m[2]!.matchAll(/server ([\w.-]+):(\d+)([^;]*);/g)].map((s) => ({ host: s[1]!, port: Number(s[2]), options: s[3]! }))]),
  );
  const locations = [...conf.matchAll(/location (=\s+)?(\S+) \{ proxy_pass http:\/\/(\w+); \}/g)].map((m) => ({ exact: !!m[1], path: m[2]!, upstream: m[3]! }));
  const moduleOfUpstream = (name: string) => {
    const modules = new Set(upstreams.get(name)!.map((s) => services[s.host]?.environment?.MODULES));
    expect(modules.size).toBe(1);
    return [...modules][0]!;
  };

  test('9100 serves each minifb process\'s /metrics at /metrics/<service>, for every minifb process and no other', () => {
    const served = /location ~ \^\/metrics\/\(([\w|-]+)\)\$ \{\s*proxy_pass http:\/\/\$1:8000\/metrics;/.exec(conf.slice(conf.indexOf('listen 9100;')))?.[1]?.split('|');
    expect(served?.sort()).toEqual(minifb.flatMap((m) => servicesOf(m).map(([name]) => name)).sort());
    expect(readFileSync(join(root, 'docker/nginx/Dockerfile'), 'utf8')).toMatch(/^EXPOSE .*\b9100\b/m);
  });

  test('every upstream server is a compose API service, on its port, resolved at run time', () => {
    expect(upstreams.size).toBeGreaterThan(0);
    expect(conf).toMatch(/resolver 127\.0\.0\.11/);
    for (const [name, servers] of upstreams) {
      for (const s of servers) {
        const service = services[s.host];
        expect({ name, host: s.host, known: service !== undefined }).toEqual({ name, host: s.host, known: true });
        expect(service!.environment![`${service!.environment!.MODULES!.toUpperCase()}_PORT`]).toBe(String(s.port));
        expect(s.options).toContain('resolve');
      }
    }
    expect(upstreams.get('feed')!.map((s) => s.host).sort()).toEqual(servicesOf('feed').map(([n]) => n).sort());
  });

  test('routes each path prefix a module declares to that module, exactly and with sub-paths', () => {
    const declared = minifb.flatMap((m) => (allModules.find((d) => d.name === m)!.routes ?? []).map((prefix) => ({ m, prefix })));
    expect(declared.length).toBeGreaterThan(0);
    for (const { m, prefix } of declared) {
      const exact = locations.find((l) => l.exact && l.path === prefix);
      const sub = locations.find((l) => !l.exact && l.path === `${prefix}/`);
      expect({ prefix, exact: exact && moduleOfUpstream(exact.upstream), sub: sub && moduleOfUpstream(sub.upstream) }).toEqual({ prefix, exact: m, sub: m });
    }
    // Nothing is routed that no module declares, and the rest goes to the account process.
    for (const l of locations.filter((l) => l.path !== '/')) {
      const prefix = l.exact ? l.path : l.path.slice(0, -1);
      expect(declared.some((d) => d.prefix === prefix)).toBe(true);
    }
    expect(moduleOfUpstream(locations.find((l) => l.path === '/' && !l.exact)!.upstream)).toBe('account');
  });

  test('routes as the local split proxy does', () => {
    const plan = planSplit({ pgUrl: 'postgres://x@h:5432/postgres', dbPrefix: 'p', natsUrl: 'nats://n:4222', modules: minifb, replicas: { feed: 2 }, minifb: SECRETS });
    const local = planProxy(plan, 'minifb');
    const byPort = new Map(plan.map((p) => [`http://127.0.0.1:${p.port}`, p.module]));
    const localRoutes = local.routes.map((r) => `${r.prefix} → ${[...new Set(r.upstreams.map((u) => byPort.get(u)))].join()}`).sort();
    const nginxRoutes = locations.filter((l) => l.exact).map((l) => `${l.path} → ${moduleOfUpstream(l.upstream)}`).sort();
    expect(localRoutes).toEqual(nginxRoutes);
    expect(local.routes.find((r) => r.prefix === '/post')!.upstreams).toHaveLength(2);
    expect(new Set(local.fallback.map((u) => byPort.get(u)))).toEqual(new Set(['account']));
  });

  test('re-sends a request to another process only as nginx allows: never a POST that was sent', () => {
    expect(conf).toMatch(/proxy_next_upstream error timeout;/);
    expect(conf).not.toContain('non_idempotent');
    expect(conf).toMatch(/listen 8000;/);
    expect(conf).toMatch(/listen 8080;[\s\S]*location = \/health/);
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

  test('starts the process entry and checks health with curl on /readyz (docker/healthcheck.sh), no Bun process per probe', () => {
    expect(text).toContain('CMD ["bun", "platform/main.ts"]');
    expect(existsSync(join(root, 'platform/main.ts'))).toBe(true);
    const healthcheck = text.split('\n').find((l) => l.startsWith('HEALTHCHECK'))!;
    expect(healthcheck).toEndWith(`CMD ${JSON.stringify(HEALTHCHECK.slice(1)).replaceAll(',', ', ')}`);
    expect(healthcheck).not.toContain('bun');
    // curl is installed in the runtime stage (the one after the last FROM).
    const runtime = text.slice(text.lastIndexOf('\nFROM '));
    expect(runtime).toMatch(/apt-get install -y --no-install-recommends curl/);
    expect(copiedPaths('docker/Dockerfile')).toContain('docker/healthcheck.sh');
  });

  test("docker/healthcheck.sh asks /readyz on each module's port: <MODULE>_PORT, else the module's own default", () => {
    const script = readFileSync(join(root, 'docker/healthcheck.sh'), 'utf8');
    expect(script).toContain('curl -fsS');
    expect(script).toContain('/readyz"');
    expect(script).not.toMatch(/\bbun\b/);
    expect(script).toContain(`\${MODULES:-${allModules.map((m) => m.name).join(',')}}`);
    for (const m of allModules) {
      const line = script.split('\n').find((l) => new RegExp(`^\\s*([a-z |]+\\| )?${m.name}( \\|[a-z |]+)?\\) port=`).test(l));
      expect({ module: m.name, line: line?.trim().match(/port=(\d+)/)?.[1] }).toEqual({ module: m.name, line: String(m.defaultPort) });
    }
  });
});

describe('what the API image holds', () => {
  const ignored = readFileSync(join(root, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => l.replace(/\/$/, ''));
  /** .dockerignore's rule for a context path: the pattern itself, anything under it, or its glob. */
  const isIgnored = (path: string) => ignored.some((p) => path === p || path.startsWith(`${p}/`) || new Bun.Glob(p).match(path) || new Bun.Glob(`${p}/**`).match(path));
  const filesUnder = (path: string): string[] =>
    statSync(join(root, path)).isDirectory() ? readdirSync(join(root, path)).flatMap((name) => filesUnder(`${path}/${name}`)) : [path];
  /** Every file docker/Dockerfile's runtime stage copies from the context. */
  const shipped = new Set(copiedPaths('docker/Dockerfile').flatMap(filesUnder).filter((p) => !isIgnored(p)));

  test('.dockerignore keeps out the tests, the benchmarks, the development tools and local state', () => {
    for (const path of ['test/compose.test.ts', 'bench/load.ts', 'platform/http/app.test.ts', 'modules/account/password.test.ts', 'platform/dev/split.ts', 'platform/dev/proxy.ts', 'node_modules/x', '.git/HEAD', '.data/item']) {
      expect({ path, ignored: isIgnored(path) }).toEqual({ path, ignored: true });
    }
  });

  test('the runtime image holds no test, benchmark or development tool', () => {
    expect(shipped.size).toBeGreaterThan(20);
    const unwanted = [...shipped].filter((p) => p.endsWith('.test.ts') || p.startsWith('test/') || p.startsWith('bench/') || p.startsWith('platform/dev/'));
    expect(unwanted).toEqual([]);
  });

  test('…and everything its entry imports (platform/main.ts, with its files), and the health check script', () => {
    const needed = new Set<string>();
    const visit = (file: string) => {
      if (needed.has(file)) return;
      needed.add(file);
      const text = readFileSync(join(root, file), 'utf8');
      for (const m of text.matchAll(/(?:from\s+|import\(\s*|new URL\(\s*)'(\.{1,2}\/[^']+)'/g)) {
        const target = relative(root, join(root, dirname(file), m[1]!));
        if (existsSync(join(root, target)) && statSync(join(root, target)).isFile()) visit(target);
      }
    };
    visit('platform/main.ts');
    needed.add('docker/healthcheck.sh');
    expect(needed.size).toBeGreaterThan(30);
    expect([...needed].filter((f) => !shipped.has(f))).toEqual([]);
  });

  test('every base image is pinned to a full version', () => {
    const bases = ['docker/Dockerfile', 'docker/postgres/Dockerfile', 'docker/nginx/Dockerfile'].flatMap((f) => [...readFileSync(join(root, f), 'utf8').matchAll(/^FROM (\S+)/gm)].map((m) => m[1]!));
    const images = [...bases, ...Object.values(services).flatMap((s) => (s.image ? [s.image] : []))];
    expect(images.length).toBeGreaterThanOrEqual(8);
    for (const image of images) expect({ image, pinned: /:\d+\.\d+(\.\d+)?(-[a-z0-9.]+)?$/.test(image) && !/:\d+(-[a-z]+)?$/.test(image) }).toEqual({ image, pinned: true });
    // Major.minor.patch where the image publishes it (postgres' versions are major.minor).
    for (const image of images.filter((i) => !i.startsWith('postgres:'))) expect(image).toMatch(/:\d+\.\d+\.\d+/);
    expect(bases.filter((b) => b.startsWith('oven/bun:'))).toEqual([`oven/bun:${Bun.version}`, `oven/bun:${Bun.version}-slim`]);
  });
});
