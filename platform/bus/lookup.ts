import { DomainError } from '../errors.ts';
import type { Bus, Replica } from './types.ts';

/**
 * Reads a key from a snapshot copy; while the copy is not warm yet, asks the owner's service
 * instead (`subject` with `payload`, NOT_FOUND meaning absent). A warm copy's word is final:
 * every acknowledged write is in it (writers wait for the copies).
 */
export function lookupThrough<T>(bus: Bus, copy: Replica<T>, ask: (key: string) => { subject: string; payload: unknown }, parse: (value: unknown) => T) {
  return async (key: string): Promise<T | undefined> => {
    const held = copy.get(key);
    if (held !== undefined || copy.ready) return held;
    const { subject, payload } = ask(key);
    try {
      return parse(await bus.request(subject, payload, { timeoutMs: 500 }));
    } catch (error) {
      if (error instanceof DomainError && error.kind === 'NOT_FOUND') return undefined;
      throw error;
    }
  };
}
