import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { comparable, published, type Published } from './conformance/documents.ts';
import { shopChecks, ShopContext, type ShopTarget } from './conformance/homeshopping/index.ts';
import { urlTransport } from './conformance/kit.ts';
import { conformanceTests, failedLines, readmeCommand, runScript } from './support/conformance.ts';
import { startShop, transportOf } from './support/shop.ts';
import { PrivateNats, SplitShop } from './support/split.ts';

/**
 * The homeshopping conformance kit (test/conformance/homeshopping/) against both modes: the
 * embedded system in this process, and the split topology's three processes over HTTP. The
 * servers' OpenAPI documents are the published ones; the kit's clean-up leaves every user's
 * alarms as they were.
 */
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
const APIS = ['item', 'alarm', 'user'] as const;

interface Mode {
  target: ShopTarget;
  /** The APIs' base URLs, where they listen. */
  urls?: string[];
  /** The OpenAPI document each API serves. */
  documents(): Promise<Record<(typeof APIS)[number], any>>;
  stop(): Promise<void>;
}

const fetchDocuments = (get: (api: (typeof APIS)[number]) => Promise<Response>) => async () =>
  Object.fromEntries(await Promise.all(APIS.map(async (api) => [api, await (await get(api)).json()]))) as Record<(typeof APIS)[number], any>;

const modes: Record<string, () => Promise<Mode>> = {
  async embedded() {
    const shop = await startShop({ backend: 'pglite' });
    return {
      target: { item: transportOf(shop.item), alarm: transportOf(shop.alarm), user: transportOf(shop.user), token: T10 },
      documents: fetchDocuments((api) => shop[api]('/openapi.json')),
      stop: () => shop.stop(),
    };
  },
  async split() {
    const nats = new PrivateNats();
    await nats.start();
    const shop = new SplitShop(nats);
    try {
      await shop.start();
    } catch (error) {
      await shop.stop();
      await nats.destroy();
      throw error;
    }
    const transport = (api: string) => urlTransport(shop.url(api));
    return {
      target: { item: transport('item'), alarm: transport('alarm'), user: transport('user'), token: T10 },
      urls: APIS.map((api) => shop.url(api).replace(/\/$/, '')),
      documents: fetchDocuments((api) => fetch(shop.url(api, '/openapi.json'))),
      async stop() {
        await shop.stop();
        await nats.destroy();
      },
    };
  },
};

describe.each(Object.keys(modes))('homeshopping kit, %s mode', (name) => {
  let mode: Mode;
  let ctx: ShopContext;
  /** Every user's alarms before the kit ran: token → item ids. */
  const before = new Map<string, number[]>();

  const alarmsOfEveryone = async () => {
    const users = (await (await mode.target.user(new Request('http://x/', { headers: { 'USER-TOKEN': T10 } }))).json()) as { payload: { access_token: string }[] };
    const alarms = new Map<string, number[]>();
    for (const { access_token } of users.payload) {
      const list = (await (await mode.target.alarm(new Request('http://x/', { headers: { 'USER-TOKEN': access_token } }))).json()) as { payload: { id: number }[] };
      alarms.set(access_token, list.payload.map((i) => i.id));
    }
    return alarms;
  };

  beforeAll(async () => {
    mode = await modes[name]!();
    ctx = new ShopContext(mode.target);
    // Alarms of the kit's own: the clean-up must put them back too.
    const owner = (await alarmsOfEveryone()).keys().next().value!;
    for (const id of [1, 2]) await mode.target.alarm(new Request('http://x/', { method: 'POST', headers: { 'USER-TOKEN': owner, 'content-type': 'application/json' }, body: JSON.stringify({ item_id: id }) }));
    for (const [token, ids] of await alarmsOfEveryone()) before.set(token, ids);
  }, 90_000);

  afterAll(async () => {
    await mode?.stop();
  }, 60_000);

  test("the servers' OpenAPI documents are the published ones (test/conformance/homeshopping-*.openapi.json)", async () => {
    const documents = await mode.documents();
    for (const api of APIS) expect({ api, document: comparable(documents[api]) }).toEqual({ api, document: comparable(published(api as Published)) });
  });

  conformanceTests('homeshopping kit', shopChecks, () => ctx);

  if (name === 'split') {
    test("the README's command passes against the split processes: every line ok, exit 0", async () => {
      const run = await runScript('conformance:shop', readmeCommand('conformance:shop', mode.urls!));
      expect({ exitCode: run.exitCode, stderr: run.stderr, failed: failedLines(run.stdout) }).toEqual({ exitCode: 0, stderr: '', failed: [] });
      expect(run.stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^homeshopping: ${shopChecks.length} checks, ${shopChecks.length} ok, 0 FAIL`));
    }, 60_000);
  }

  test("homeshopping kit clean-up — every user's alarms are as they were before the kit ran", async () => {
    expect(await ctx.cleanUp()).toBeGreaterThan(20);
    const after = await alarmsOfEveryone();
    expect([...before.values()].some((ids) => ids.length === 2)).toBe(true);
    expect(after).toEqual(before);
  }, 30_000);
});
