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

export const lengthHint = (min: number, max: number) => `must be ${min} to ${max} characters`;

/**
 * A string field of `min` to `max` characters. The schema bounds the UTF-16 length loosely
 * (a code point is one or two units) and documents the limit; `checkText` enforces it exactly,
 * with the same hint.
 */
export function textField(min: number, max: number, options: { description?: string; pattern?: string } = {}): TString {
  return Type.String({
    minLength: min,
    maxLength: max * 2,
    error: lengthHint(min, max),
    description: `${options.description ?? 'Text'}: ${min} to ${max} characters`,
    ...(options.pattern ? { pattern: options.pattern } : {}),
  });
}

/**
 * Throws `<code>` (INVALID) naming `field` unless `value` has `min` to `max` characters, and
 * none that Postgres text cannot hold (NUL) or that is no character at all (a lone surrogate).
 */
export function checkText(code: string, field: string, value: string, min: number, max: number): string {
  const n = charCount(value);
  if (n < min || n > max) throw new DomainError(code, `${field}: ${lengthHint(min, max)}`);
  if (value.includes('\u0000')) throw new DomainError(code, `${field}: must not contain the NUL character (U+0000)`);
  if (!value.isWellFormed()) throw new DomainError(code, `${field}: must be well-formed Unicode (no lone surrogate)`);
  return value;
}
