import { afterAll, beforeAll, describe, expect, test } from 'bun:test';
import { comparable, published, type Published } from './conformance/documents.ts';
import { shopChecks, ShopContext } from './conformance/homeshopping/index.ts';
import { conformanceTests, failedLines, readmeCommand, runScript } from './support/conformance.ts';
import { startShop, type ShopApis } from './support/shop.ts';
import { SplitShop } from './support/split.ts';

/**
 * The homeshopping conformance kit (test/conformance/homeshopping/) against both modes: the
 * embedded system in this process, and the split topology's three processes over HTTP. The
 * servers' OpenAPI documents are the published ones; the kit's clean-up leaves every user's
 * alarms as they were.
 */
const T10 = '4a49145e-45a8-4845-af45-1af2a59bb044';
const APIS = ['item', 'alarm', 'user'] as const;

interface Mode {
  /** The harness's clients of the three APIs: the kit drives their transports. */
  shop: ShopApis;
  /** The APIs' base URLs, where they listen. */
  urls?: string[];
  stop(): Promise<void>;
}

const modes: Record<string, () => Promise<Mode>> = {
  async embedded() {
    const shop = await startShop({ backend: 'pglite' });
    return { shop, stop: () => shop.stop() };
  },
  async split() {
    const shop = await SplitShop.withOwnNats();
    return { shop, urls: APIS.map((api) => shop.url(api).replace(/\/$/, '')), stop: () => shop.stop() };
  },
};

describe.each(Object.keys(modes))('homeshopping kit, %s mode', (name) => {
  let mode: Mode;
  let ctx: ShopContext;
  /** Every user's alarms before the kit ran: token → item ids. */
  const before = new Map<string, number[]>();

  const alarmsOfEveryone = async () => {
    const users = (await mode.shop.user.call('GET', '/', { token: T10 })).body as { payload: { access_token: string }[] };
    const alarms = new Map<string, number[]>();
    for (const { access_token } of users.payload) {
      const list = (await mode.shop.alarm.call('GET', '/', { token: access_token })).body as { payload: { id: number }[] };
      alarms.set(access_token, list.payload.map((i) => i.id));
    }
    return alarms;
  };

  beforeAll(async () => {
    mode = await modes[name]!();
    const { item, alarm, user } = mode.shop;
    ctx = new ShopContext({ item: item.transport, alarm: alarm.transport, user: user.transport, token: T10 });
    // Alarms of the kit's own: the clean-up must put them back too.
    const owner = (await alarmsOfEveryone()).keys().next().value!;
    for (const id of [1, 2]) await alarm.call('POST', '/', { token: owner, body: { item_id: id } });
    for (const [token, ids] of await alarmsOfEveryone()) before.set(token, ids);
  }, 90_000);

  afterAll(async () => {
    await mode?.stop();
  }, 60_000);

  test("the servers' OpenAPI documents are the published ones (test/conformance/homeshopping-*.openapi.json)", async () => {
    for (const api of APIS) {
      const document = (await mode.shop[api].call('GET', '/openapi.json')).body;
      expect({ api, document: comparable(document) }).toEqual({ api, document: comparable(published(api as Published)) });
    }
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
