import type { Static, TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { DomainError } from '../errors.ts';

/**
 * Returns a parser that checks a payload against a contract schema and throws `<code>` (a
 * DomainError, INVALID) naming the first problem. Used on every bus payload.
 */
export function parserOf<S extends TSchema>(schema: S, code = 'BUS.INVALID'): (value: unknown) => Static<S> {
  return (value) => {
    if (Value.Check(schema, value)) return value as Static<S>;
    const first = Value.Errors(schema, value).First();
    throw new DomainError(code, `${first?.path || 'payload'}: ${first?.message ?? 'invalid'}`);
  };
}
