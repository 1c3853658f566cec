import { join } from 'node:path';

export interface DashboardAssets {
  js: string;
  css: string;
}

let built: Promise<DashboardAssets> | undefined;

/**
 * Bundles the dashboard's script with Chart.js (and its stylesheet) with Bun, once per process:
 * served by the module itself, nothing from a CDN.
 */
export function dashboardAssets(): Promise<DashboardAssets> {
  built ??= (async () => {
    const result = await Bun.build({ entrypoints: [join(import.meta.dir, 'app.ts')], target: 'browser', minify: true });
    if (!result.success) throw new AggregateError(result.logs, 'the dashboard did not build');
    const js = result.outputs.find((o) => o.kind === 'entry-point');
    const css = result.outputs.find((o) => o.path.endsWith('.css'));
    if (!js || !css) throw new Error('the dashboard build gave no script or no stylesheet');
    return { js: await js.text(), css: await css.text() };
  })();
  built.catch(() => (built = undefined));
  return built;
}
