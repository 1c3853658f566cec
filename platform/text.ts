import { Type, type TString } from '@sinclair/typebox';
import { DomainError } from './errors.ts';

/**
 * Text limits in characters, as the contracts count them (Unicode code points, as Python's
 * `len` does): `'가'` is one, an emoji is one, though JavaScript's `length` says two for it.
 */
export function charCount(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** A text field's length in characters: data read by the schema that validates it and by the use case that enforces it. */
export interface TextLimit {
  readonly min: number;
  readonly max: number;
}

export const lengthHint = ({ min, max }: TextLimit) => `must be ${min} to ${max} characters`;

/**
 * A string field of `limit.min` to `limit.max` characters. The schema bounds the UTF-16 length loosely
 * (a code point is one or two units) and documents the limit; `checkText` enforces it exactly,
 * with the same hint.
 */
export function textField(limit: TextLimit, options: { description?: string; pattern?: string } = {}): TString {
  return Type.String({
    minLength: limit.min,
    maxLength: limit.max * 2,
    error: lengthHint(limit),
    description: `${options.description ?? 'Text'}: ${limit.min} to ${limit.max} characters`,
    ...(options.pattern ? { pattern: options.pattern } : {}),
  });
}

/**
 * Throws `<code>` (INVALID) naming `field` unless `value` has `min` to `max` characters, and
 * none that Postgres text cannot hold (NUL) or that is no character at all (a lone surrogate).
 */
export function checkText(code: string, field: string, value: string, limit: TextLimit): string {
  const n = charCount(value);
  if (n < limit.min || n > limit.max) throw new DomainError(code, `${field}: ${lengthHint(limit)}`);
  const problem = problemHint(value);
  if (problem) throw new DomainError(code, `${field}: ${problem}`);
  return value;
}

/**
 * What is wrong with text that Postgres cannot store (a NUL) or that is no text at all (a lone
 * surrogate, which JSON's `\ud800` can carry); undefined when nothing is.
 */
export function problemHint(text: string): string | undefined {
  if (text.includes('\u0000')) return 'must not contain the NUL character (U+0000)';
  if (!text.isWellFormed()) return 'must be well-formed Unicode (no lone surrogate)';
  return undefined;
}

/**
 * The first string anywhere in `value` (objects and arrays walked, keys included) that
 * `problemHint` refuses, as `<field>: <hint>` with the field's path (`a.b.0`); undefined when none.
 */
export function textProblemIn(value: unknown, field = ''): string | undefined {
  if (typeof value === 'string') {
    const problem = problemHint(value);
    return problem && `${field || 'body'}: ${problem}`;
  }
  if (!value || typeof value !== 'object') return undefined;
  for (const [key, inner] of Object.entries(value)) {
    const at = field ? `${field}.${key}` : key;
    const found = problemHint(key) ? `${at}: ${problemHint(key)}` : textProblemIn(inner, at);
    if (found) return found;
  }
  return undefined;
}
