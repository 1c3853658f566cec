/**
 * Process entry and composition root: reads the configuration, starts the modules it names
 * (MODULES, default all) and serves their ports. The only file of platform/ that imports modules.
 */
import { allModules } from '../modules/index.ts';
import { ConfigError, parseConfig } from './config.ts';
import { createLogger, flushLogs } from './observability/log.ts';
import { PortInUseError, startSystem, type RunningSystem } from './runtime.ts';
import { startTracing, stopTracing } from './observability/tracing.ts';

const log = createLogger({ pid: process.pid });

/** Exits once the log lines buffered are written (at most a second: stderr may have stalled). */
const exit = async (code: number): Promise<never> => {
  await flushLogs(1000);
  process.exit(code);
};

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
// Spans are exported only when OTEL_EXPORTER_OTLP_ENDPOINT is set; named after what runs here.
await startTracing(`moa-${config.modules.map((m) => m.name).join('-')}`);
let system: RunningSystem;
try {
  system = await startSystem(config, allModules, { log });
} catch (error) {
  // One line that says what to do, not a stack trace: the usual way for a start to fail.
  if (error instanceof PortInUseError) {
    console.error(`cannot start: ${error.message}`);
    await exit(1);
  }
  throw error;
}
log.info('started', {
  modules: config.modules.map((m) => m.name),
  bus: system.bus.kind,
  dataDir: config.dataDir,
  ms: Math.round(performance.now() - started),
});

/**
 * SIGTERM or SIGINT: stop accepting, answer the requests in flight, stop the modules, exit 0 —
 * all within SHUTDOWN_GRACE_MS. A stop that takes longer exits 1 when the period is over; a
 * second signal does not wait for it. Every line logged until then is written before the exit.
 */
let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) {
      log.warn('stopping now: a second signal', { signal });
      await exit(1);
    }
    stopping = true;
    const since = performance.now();
    log.info('stopping', { signal, graceMs: config.shutdownGraceMs });
    const overdue = setTimeout(() => {
      log.error('stop did not finish within SHUTDOWN_GRACE_MS; exiting', { graceMs: config.shutdownGraceMs });
      void exit(1);
    }, config.shutdownGraceMs);
    try {
      await system.stop();
      // The spans of the last requests and messages, before the process ends.
      await stopTracing().catch((error) => log.warn('could not export the last spans', { error }));
    } catch (error) {
      log.error('stop failed', { error: error as Error });
      await exit(1);
    }
    clearTimeout(overdue);
    log.info('stopped', { ms: Math.round(performance.now() - since) });
    await exit(0);
  });
}
