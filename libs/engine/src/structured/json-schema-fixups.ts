// Schema rewrites that keep XGrammar's output valid JSON where its converter (0.1.27) would not.

// Keywords whose value is a subschema, a list of them, or a map of them.
const ONE = ['additionalProperties', 'items', 'not', 'if', 'then', 'else', 'contains', 'unevaluatedItems', 'unevaluatedProperties'];
const LIST = ['anyOf', 'oneOf', 'allOf', 'prefixItems', 'items'];
const MAP = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * XGrammar turns a string with minLength / maxLength into `[^"\\\r\n]{m,n}`, which lets raw control characters
 * through (JSON forbids them) and no escapes; a pattern of JSON-safe characters with the same bounds compiles
 * to a rule that keeps the document valid JSON. Returns a rewritten copy; the input is not changed.
 */
export function safeStringLengths(schema: unknown): unknown {
  if (!isNode(schema)) return schema;
  const out: Node = { ...schema };
  for (const k of ONE) if (isNode(out[k])) out[k] = safeStringLengths(out[k]);
  for (const k of LIST) if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).map(safeStringLengths);
  for (const k of MAP) {
    if (isNode(out[k])) out[k] = Object.fromEntries(Object.entries(out[k] as Node).map(([name, s]) => [name, safeStringLengths(s)]));
  }
  const bounded = out.minLength !== undefined || out.maxLength !== undefined;
  if (out.type === 'string' && bounded && out.pattern === undefined && out.format === undefined) {
    const min = Number.isSafeInteger(out.minLength) ? (out.minLength as number) : 0;
    const max = Number.isSafeInteger(out.maxLength) ? String(out.maxLength) : '';
    out.pattern = `^[^"\\\\\\x00-\\x1f]{${min},${max}}$`;
    // XGrammar ignores (and warns about) lengths beside a pattern: the pattern carries them.
    delete out.minLength;
    delete out.maxLength;
  }
  return out;
}
