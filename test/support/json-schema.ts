/**
 * A small JSON Schema checker for the subset OpenAPI documents here use (type, properties,
 * required, additionalProperties: false, items, anyOf/oneOf, minimum/maximum). Returns the
 * first problem, or null.
 */
export function schemaProblem(schema: any, value: unknown, at = '$'): string | null {
  if (!schema || typeof schema !== 'object') return null;
  for (const key of ['anyOf', 'oneOf'] as const) {
    if (Array.isArray(schema[key])) {
      return schema[key].some((s: unknown) => schemaProblem(s, value, at) === null) ? null : `${at}: matches none of ${key}`;
    }
  }
  const types: string[] | undefined = schema.type === undefined ? undefined : [schema.type].flat();
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  if (types) {
    const ok = types.some((t) =>
      t === 'integer' ? Number.isInteger(value) : t === 'number' ? typeof value === 'number' : t === actual,
    );
    if (!ok) return `${at}: expected ${types.join('|')}, got ${actual}`;
  }
  if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) return `${at}: below ${schema.minimum}`;
    if (schema.maximum !== undefined && value > schema.maximum) return `${at}: above ${schema.maximum}`;
  }
  if (actual === 'object') {
    const obj = value as Record<string, unknown>;
    for (const r of schema.required ?? []) if (!(r in obj)) return `${at}.${r}: missing`;
    for (const [k, v] of Object.entries(obj)) {
      const sub = schema.properties?.[k];
      if (sub) {
        const p = schemaProblem(sub, v, `${at}.${k}`);
        if (p) return p;
      } else if (schema.additionalProperties === false) return `${at}.${k}: not allowed`;
    }
  }
  if (actual === 'array' && schema.items) {
    for (const [i, v] of (value as unknown[]).entries()) {
      const p = schemaProblem(schema.items, v, `${at}[${i}]`);
      if (p) return p;
    }
  }
  return null;
}
