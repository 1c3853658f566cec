import type { TextLimit } from '../../platform/text.ts';

/** The feed's text limits (contract: "Models and limits"): read by the request schemas and the use cases. */
export const FEED_LIMITS = {
  post: { min: 1, max: 3000 },
  comment: { min: 1, max: 1000 },
} as const satisfies Record<string, TextLimit>;
