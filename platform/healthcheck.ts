/**
 * Container health: every port this process is configured to serve answers its API document.
 * Exits 0 when healthy, 1 otherwise. Used by docker/Dockerfile and compose.yaml.
 */
const ports = new Set<string>();
for (const name of (process.env.MODULES ?? 'item,alarm,user').split(',').map((s) => s.trim())) {
  const fallback = { item: '5001', alarm: '6001', user: '7001' }[name];
  const port = process.env[`${name.toUpperCase()}_PORT`] ?? fallback;
  if (port) ports.add(port);
}
try {
  for (const port of ports) {
    const res = await fetch(`http://127.0.0.1:${port}/openapi.json`, { signal: AbortSignal.timeout(2000) });
    if (!res.ok) throw new Error(`port ${port} answered ${res.status}`);
  }
  process.exit(0);
} catch (error) {
  console.error(`unhealthy: ${(error as Error).message}`);
  process.exit(1);
}
export {};
