/**
 * Writes the published OpenAPI documents of the kits from what our embedded system serves:
 * `bun test/conformance/publish.ts`. Run it only when the contract changes on purpose, review the
 * diff, and raise `info.version` (the kits and other stacks hold servers to these files; a test
 * holds ours to them: test/conformance-documents.test.ts).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { allModules } from '../../modules/index.ts';
import { parseConfig } from '../../platform/config.ts';
import { startSystem } from '../../platform/runtime.ts';
import { publishedPath, type Published } from './documents.ts';

/** Where our embedded system serves each document, and the title it is published under. */
const SOURCES: Record<Published, { port: number; title: string }> = {
  minifb: { port: 8000, title: 'minifb' },
  item: { port: 5001, title: 'Homeshopping Moa: item API' },
  alarm: { port: 6001, title: 'Homeshopping Moa: alarm API' },
  user: { port: 7001, title: 'Homeshopping Moa: user API' },
};

const dataDir = mkdtempSync(join(tmpdir(), 'publish-'));
const system = await startSystem(parseConfig({ DATA_DIR: dataDir, LOG_LEVEL: 'error' }, allModules), allModules, { listen: false });
try {
  for (const [name, { port, title }] of Object.entries(SOURCES) as [Published, { port: number; title: string }][]) {
    const served = await (await system.handle(port, new Request('http://localhost/openapi.json'))).json();
    const previous = await Bun.file(publishedPath(name)).json().catch(() => null);
    const document = { ...served, info: { title, version: previous?.info?.version ?? '1.0.0', description: previous?.info?.description ?? '' } };
    await Bun.write(publishedPath(name), `${JSON.stringify(document, null, 2)}\n`);
    console.log(`${publishedPath(name)}: ${Object.keys(document.paths).length} paths, version ${document.info.version}`);
  }
} finally {
  await system.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
