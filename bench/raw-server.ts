/**
 * Baseline: raw Bun.serve answering every request with a fixed body (argv: port, body file),
 * pre-encoded once — the fastest way plain Bun.serve can send it.
 */
const [port, file] = Bun.argv.slice(2);
const body = await Bun.file(file!).bytes();
Bun.serve({
  port: Number(port),
  hostname: '127.0.0.1',
  fetch: () => new Response(body, { headers: { 'content-type': 'application/json; charset=utf-8' } }),
});
export {};
