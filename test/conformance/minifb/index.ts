/**
 * The minifb conformance kit: every check, in the order they run. `bun run conformance <base-url>`
 * runs them (test/conformance/run.ts); our own tests run them against both modes.
 */
import type { Check } from '../kit.ts';
import { accessChecks } from './access.ts';
import { accountChecks, tokenChecks } from './accounts.ts';
import type { MinifbContext } from './context.ts';
import { feedChecks } from './feed.ts';
import { notificationChecks } from './notifications.ts';

export { MinifbContext, type MinifbTarget } from './context.ts';

export const minifbChecks: readonly Check<MinifbContext>[] = [...accountChecks, ...tokenChecks, ...feedChecks, ...notificationChecks, ...accessChecks];

/** Names `--only` takes for several sections at once. */
export const minifbAliases: Record<string, readonly string[]> = { feed: ['posts', 'timelines', 'pagination', 'comments', 'reactions'] };

/** The sections, in order. */
export const minifbSections = [...new Set(minifbChecks.map((c) => c.section))];
