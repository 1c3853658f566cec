/**
 * The homeshopping conformance kit: `bun run conformance:shop <item-url> <alarm-url> <user-url>
 * --token T` runs it (test/conformance/run.ts); our own tests run it against both modes.
 */
export { BAD_ITEM_IDS, ENDPOINTS, shopChecks } from './checks.ts';
export { ShopContext, type ShopTarget } from './context.ts';
