/**
 * Process entry and composition root: reads the configuration, starts the modules it names
 * (MODULES, default all) and serves their ports. The only file of platform/ that imports modules.
 */
import { allModules } from '../modules/index.ts';
import { ConfigError, parseConfig } from './config.ts';
import { createLogger } from './log.ts';
import { startSystem } from './runtime.ts';

const log = createLogger({ pid: process.pid });
let config;
try {
  config = parseConfig(process.env, allModules);
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(`configuration error: ${error.message}`);
    process.exit(2);
  }
  throw error;
}

// A promise nobody waited for must not end the process (Bun's default): say so, and go on.
process.on('unhandledRejection', (error) => log.error('a promise failed and nobody waited for it', { error: error as Error }));

const started = performance.now();
const system = await startSystem(config, allModules, { log });
log.info('started', {
  modules: config.modules.map((m) => m.name),
  bus: system.bus.kind,
  dataDir: config.dataDir,
  ms: Math.round(performance.now() - started),
});

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    await system.stop();
    process.exit(0);
  });
}
