/**
 * The server side of bench/layers.ts: the embedded homeshopping system started in this process
 * (no port of its own), and `GET /` on the item service served on one port per stack of layers,
 * each stack the one before with one more layer around it. Prints `{ ports: { "<stack>": port, … },
 * tokens, bytes }` on stdout once every port answers; the log lines (the last stack's) go to stderr.
 *
 *   floor     Bun.serve sending the body of `GET /`, pre-encoded
 *   routing   + an Elysia app routing `GET /` to a handler that sends that body
 *   auth      + the header authentication of the port (USER-TOKEN looked up in a Map)
 *   route     the port's app itself: the platform's hooks and error mapping, the item module's
 *             authentication against its copy of users and its route (the catalog and the
 *             caller's alarms), instead of the two stand-ins above
 *   metrics   + withOperations: the request's route pattern and its duration in the histogram
 *   edge      + the body limit and CORS
 *   context   + the request id, trace context and AsyncLocalStorage (observe), its line not written
 *   logging   + the request line at info: the whole port, as runtime.ts builds it
 */
import { Elysia } from 'elysia';
import { allModules } from '../modules/index.ts';
import { parseConfig } from '../platform/config.ts';
import { edge } from '../platform/http/edge.ts';
import { headerAuth } from '../platform/http/header-auth.ts';
import { withOperations } from '../platform/http/operations.ts';
import { PortRoutes } from '../platform/http/routes.ts';
import { Readiness } from '../platform/observability/health.ts';
import { createLogger, type Logger } from '../platform/observability/log.ts';
import { observe } from '../platform/observability/request-context.ts';
import { startSystem } from '../platform/runtime.ts';
import { startTracing, stopTracing } from '../platform/observability/tracing.ts';

const [dataDir, token] = Bun.argv.slice(2) as [string, string];
const ITEM = 5001;
// Only with OTEL_EXPORTER_OTLP_ENDPOINT set (bench/layers.ts --otlp): then every span is exported.
await startTracing('bench-layers');
const config = parseConfig({ ...process.env, DATA_DIR: dataDir, MODULES: 'item,alarm,user', ITEM_PORT: String(ITEM), ALARM_PORT: '6001', USER_PORT: '7001' }, allModules);
const system = await startSystem(config, allModules, { listen: false });
const app = system.apps.get(ITEM)!;
const body = await (await system.handle(ITEM, new Request('http://localhost/', { headers: { 'USER-TOKEN': token } }))).bytes();
const type = { 'content-type': 'application/json; charset=utf-8' };

type Handler = (request: Request) => Promise<Response> | Response;
const silent: Logger = { debug() {}, info() {}, warn() {}, error() {}, child: () => silent };
const log = createLogger().child({ port: ITEM });
const routes = new PortRoutes(() => app.routes);
const metered = withOperations((r) => app.handle(r), { routes, api: 'item', metrics: system.metrics, readiness: new Readiness(() => []) });
const edged = edge(metered, config);
const everyone = (await (await system.handle(7001, new Request('http://localhost/', { headers: { 'USER-TOKEN': token } }))).json()) as { payload: { id: number; access_token: string }[] };
const users = new Map(everyone.payload.map((u) => [u.access_token, { id: u.id }]));

const stacks: Record<string, Handler> = {
  floor: () => new Response(body, { headers: type }),
  routing: (r) => routing.handle(r),
  auth: (r) => auth.handle(r),
  route: (r) => app.handle(r),
  metrics: metered,
  edge: edged,
  context: observe(edged, { routes, log: silent }),
  logging: observe(edged, { routes, log }),
};
const routing = new Elysia({ precompile: true }).get('/', () => new Response(body, { headers: type }));
const auth = new Elysia({ precompile: true }).use(headerAuth({ name: 'bench.auth', header: 'USER-TOKEN', lookup: (t) => users.get(t) })).get('/', () => new Response(body, { headers: type }));

const ports: Record<string, number> = {};
for (const [name, fetch] of Object.entries(stacks)) {
  const server = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch });
  ports[name] = server.port!;
  const res = await fetch(new Request('http://localhost/', { headers: { 'USER-TOKEN': token } }));
  // (the stand-ins send the first user's body to everyone: the same bytes, not the same flags)
  if (res.status !== 200 || (await res.bytes()).length !== body.length) throw new Error(`${name} does not answer GET / as the item service does`);
}
console.log(JSON.stringify({ ports, tokens: [...users.keys()], bytes: body.length }));
process.on('SIGTERM', async () => {
  await system.stop();
  await stopTracing();
  process.exit(0);
});
