/**
 * Reading the OpenAPI documents the services publish, to hold them to what the services do:
 * which routes they list, and whether a real response matches the schema declared for its
 * status. The declared JSON Schema is rebuilt as a TypeBox schema and checked with Value.Check;
 * a keyword this converter does not understand fails loudly instead of being ignored.
 */
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

type JsonSchema = Record<string, any>;

/** Keywords that only describe; they constrain nothing. */
const annotations = new Set(['description', 'examples', 'example', 'title', 'default', 'error', '$schema', 'deprecated']);
const understood = new Set([
  ...annotations,
  'type', 'properties', 'required', 'additionalProperties', 'items', 'anyOf', 'oneOf',
  'minimum', 'maximum', 'pattern', 'minLength', 'maxLength', 'enum', 'const', 'nullable',
  'format', 'patternProperties',
]);

/** String formats this check can verify, as patterns. */
const formats: Record<string, string> = {
  'date-time': '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$',
};

/** Rebuilds a JSON Schema (the subset OpenAPI documents use) as a TypeBox schema. */
export function schemaFromJson(schema: JsonSchema, at = '#'): TSchema {
  for (const key of Object.keys(schema)) {
    if (!understood.has(key)) throw new Error(`${at}: schema keyword "${key}" is not understood by this check`);
  }
  const nullable = (s: TSchema) => (schema.nullable === true ? Type.Union([s, Type.Null()]) : s);

  if (schema.anyOf || schema.oneOf) {
    const list: JsonSchema[] = schema.anyOf ?? schema.oneOf;
    return nullable(Type.Union(list.map((s, i) => schemaFromJson(s, `${at}/anyOf/${i}`))));
  }
  if (schema.const !== undefined) return nullable(Type.Literal(schema.const));
  if (schema.enum) return nullable(Type.Union(schema.enum.map((v: any) => Type.Literal(v))));

  const types: string[] = schema.type === undefined ? [] : [schema.type].flat();
  if (types.length === 0) throw new Error(`${at}: schema without a type`);
  if (types.length > 1) {
    return nullable(Type.Union(types.map((type) => schemaFromJson({ ...schema, type }, at))));
  }
  const numeric = { minimum: schema.minimum, maximum: schema.maximum };
  const strip = <T extends object>(o: T) => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
  switch (types[0]) {
    case 'string': {
      if (schema.format !== undefined && !formats[schema.format]) throw new Error(`${at}: format "${schema.format}" is not understood by this check`);
      if (schema.format && schema.pattern) throw new Error(`${at}: format and pattern together are not understood by this check`);
      const pattern = schema.format ? formats[schema.format] : schema.pattern;
      return nullable(Type.String(strip({ pattern, minLength: schema.minLength, maxLength: schema.maxLength })));
    }
    case 'integer':
      return nullable(Type.Integer(strip(numeric)));
    case 'number':
      return nullable(Type.Number(strip(numeric)));
    case 'boolean':
      return nullable(Type.Boolean());
    case 'null':
      return Type.Null();
    case 'array':
      if (!schema.items) throw new Error(`${at}: array without items`);
      return nullable(Type.Array(schemaFromJson(schema.items, `${at}/items`)));
    case 'object': {
      if (schema.patternProperties) {
        const entries = Object.entries(schema.patternProperties as Record<string, JsonSchema>);
        if (entries.length !== 1 || schema.properties) throw new Error(`${at}: patternProperties beside other keys are not understood by this check`);
        const [pattern, valueSchema] = entries[0]!;
        return nullable(Type.Record(Type.String({ pattern }), schemaFromJson(valueSchema, `${at}/patternProperties`)));
      }
      const required = new Set<string>(schema.required ?? []);
      const properties = Object.fromEntries(
        Object.entries((schema.properties ?? {}) as Record<string, JsonSchema>).map(([k, s]) => {
          const t = schemaFromJson(s, `${at}/properties/${k}`);
          return [k, required.has(k) ? t : Type.Optional(t)];
        }),
      );
      for (const r of required) if (!(r in properties)) throw new Error(`${at}: required "${r}" has no property schema`);
      if (schema.additionalProperties !== undefined && typeof schema.additionalProperties !== 'boolean') {
        throw new Error(`${at}: additionalProperties as a schema is not understood by this check`);
      }
      return nullable(Type.Object(properties, schema.additionalProperties === false ? { additionalProperties: false } : {}));
    }
    default:
      throw new Error(`${at}: type "${types[0]}" is not understood by this check`);
  }
}

/** The first problem of `value` against a declared JSON Schema, or null when it conforms. */
export function conformance(schema: JsonSchema, value: unknown): string | null {
  const t = schemaFromJson(schema);
  if (Value.Check(t, value)) return null;
  const first = Value.Errors(t, value).First();
  return `${first?.path || '/'}: ${first?.message ?? 'does not match'}`;
}

/** `METHOD /path` of every operation a document lists, OpenAPI path templates as they are. */
export function documentedRoutes(doc: JsonSchema): string[] {
  const methods = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);
  return Object.entries(doc.paths ?? {})
    .flatMap(([path, ops]) => Object.keys(ops as object).filter((m) => methods.has(m)).map((m) => `${m.toUpperCase()} ${path}`))
    .sort();
}

/** The documented path template a concrete request path falls under (`/50` → `/{item_id}`). */
export function templateOf(doc: JsonSchema, path: string): string | undefined {
  const bare = path.split('?')[0]!;
  const templates = Object.keys(doc.paths ?? {});
  // Literal paths win over templated ones, as in the router.
  return (
    templates.find((t) => t === bare) ??
    templates.find((t) => new RegExp(`^${t.replace(/\{[^}]+\}/g, '[^/]+').replace(/\//g, '\\/')}$`).test(bare))
  );
}

/** Paths an operator asks (health, metrics): documented, but no part of the API's contract. */
export const operational = (path: string) => path === '/healthz' || path === '/readyz' || path === '/metrics';

/** Paths that document, check or measure the service; they are not part of the API. */
const undocumented = (path: string) => path === '/openapi.json' || operational(path) || path.startsWith('/docs');

/**
 * What is wrong with one answer by the document: a status the route does not declare, a JSON
 * body without a declared schema, or one that breaks it. Null when the answer conforms, and for
 * requests the document has no operation for (an unknown path or method). `body` is the parsed
 * JSON, or the text when the answer was not JSON (an HTML page is not checked).
 */
export function answerProblem(doc: JsonSchema, answer: { method: string; path: string; status: number; body: unknown }): string | null {
  const template = templateOf(doc, answer.path);
  const op = template && doc.paths[template]?.[answer.method.toLowerCase()];
  if (!op || undocumented(answer.path.split('?')[0]!)) return null;
  const declared = op.responses?.[String(answer.status)];
  if (!declared) return `status ${answer.status} is not declared for ${answer.method} ${template}`;
  if (typeof answer.body === 'string') return null;
  const schema = declared.content?.['application/json']?.schema;
  if (!schema) return `no JSON schema is declared for ${answer.status} on ${answer.method} ${template}`;
  const problem = conformance(schema, answer.body);
  return problem && `the body breaks the schema declared for ${answer.status} on ${answer.method} ${template}: ${problem}`;
}
