/**
 * Container health: every port this process is configured to serve answers its API document.
 * Exits 0 when healthy, 1 otherwise. Used by docker/Dockerfile and compose.yaml. A process entry
 * like main.ts: it reads the modules' default ports, nothing else of them.
 */
import { allModules } from '../modules/index.ts';

const ports = new Set<string>();
for (const name of (process.env.MODULES ?? allModules.map((m) => m.name).join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
  const port = process.env[`${name.toUpperCase()}_PORT`] ?? allModules.find((m) => m.name === name)?.defaultPort;
  if (port !== undefined) ports.add(String(port));
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
