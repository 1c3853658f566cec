/**
 * The published OpenAPI documents the kits hold answers to: versioned files next to this one.
 * They are the contract's machine-readable half (the other half is the behaviour the checks
 * assert); a server's own `/openapi.json` may say more or less, the kits read these.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const DOCUMENTS = {
  minifb: 'minifb',
  item: 'homeshopping-item',
  alarm: 'homeshopping-alarm',
  user: 'homeshopping-user',
} as const;
export type Published = keyof typeof DOCUMENTS;

export const publishedPath = (name: Published) => join(import.meta.dir, `${DOCUMENTS[name]}.openapi.json`);

const cache = new Map<Published, any>();
/** The published document `name`, parsed once. */
export function published(name: Published): any {
  if (!cache.has(name)) cache.set(name, JSON.parse(readFileSync(publishedPath(name), 'utf8')));
  return cache.get(name);
}

/** What of a served document must equal the published one: all but `info`, which is the publisher's. */
export function comparable(document: Record<string, unknown>): Record<string, unknown> {
  const { info: _info, ...rest } = document;
  return rest;
}
