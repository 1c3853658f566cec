/**
 * The account model's limits (contract: "Models and limits"), in characters. The one source:
 * the request schemas, the use cases, the administrator's settings and the dashboard's login
 * form all read them.
 */
export const ACCOUNT_LIMITS = {
  id: { min: 4, max: 50 },
  password: { min: 10, max: 100 },
  name: { min: 2, max: 16 },
  nickname: { min: 1, max: 30 },
  bio: { min: 1, max: 85 },
} as const satisfies Record<string, { min: number; max: number }>;

/** The characters an account id may hold. */
export const ACCOUNT_ID_PATTERN = /^[A-Za-z0-9_.-]+$/;
