// Schema rewrites that keep XGrammar's output valid JSON where its converter (0.1.27) would not.

// Keywords whose value is a subschema, a list of them, or a map of them.
const ONE = ['additionalProperties', 'items', 'not', 'if', 'then', 'else', 'contains', 'unevaluatedItems', 'unevaluatedProperties'];
const LIST = ['anyOf', 'oneOf', 'allOf', 'prefixItems', 'items'];
const MAP = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];

type Node = Record<string, unknown>;
const isNode = (v: unknown): v is Node => typeof v === 'object' && v !== null && !Array.isArray(v);

// What a JSON string may hold unescaped is anything but these (regex class syntax): the quote, the backslash, controls.
const UNSAFE = '"\\\\\\x00-\\x1f';
const SAFE_CHAR = `[^${UNSAFE}]`;
// Escapes outside a class that admit unsafe characters, and what they become: the same set less those characters.
// UNSAFE goes last in a class: XGrammar reads \x1f followed by a hex digit as one longer code point.
const ESCAPES: Record<string, string> = { S: `[^ ${UNSAFE}]`, W: `[^0-9A-Za-z_${UNSAFE}]`, D: `[^0-9${UNSAFE}]`, s: '[ ]' };

/**
 * XGrammar matches a string's pattern against the raw characters between the quotes, so `.`, a negated class
 * and \S, \W, \D admit `"` and `\` (the document stops being JSON) and \s a raw newline (JSON forbids it).
 * This narrows each to the characters a JSON string holds unescaped; the text then parses, and its value
 * matches the user's pattern. Not narrowed: \S, \W, \D inside a positive class (`[a\S]`).
 */
export function jsonSafePattern(pattern: string): string {
  let out = '';
  let inClass = false;
  let negated = false;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') {
      const e = pattern[i + 1] ?? '';
      i++;
      out += inClass ? (e === 's' ? ' ' : `\\${e}`) : (ESCAPES[e] ?? `\\${e}`);
    } else if (inClass) {
      if (c === ']') inClass = false;
      out += c === ']' && negated ? `${UNSAFE}]` : c;
    } else if (c === '[') {
      inClass = true;
      negated = pattern[i + 1] === '^';
      if (negated) i++;
      out += negated ? '[^' : '[';
    } else {
      out += c === '.' ? SAFE_CHAR : c;
    }
  }
  return out;
}

/**
 * Rewrites a schema where XGrammar's converter (0.1.27) would let a document stop being JSON: string patterns
 * (jsonSafePattern), and string lengths, which it turns into `[^"\\\r\n]{m,n}` (raw control characters
 * through): a pattern of JSON-safe characters with the same bounds. Returns a copy; the input is not changed.
 */
export function jsonSafeSchema(schema: unknown): unknown {
  if (!isNode(schema)) return schema;
  const out: Node = { ...schema };
  for (const k of ONE) if (isNode(out[k])) out[k] = jsonSafeSchema(out[k]);
  for (const k of LIST) if (Array.isArray(out[k])) out[k] = (out[k] as unknown[]).map(jsonSafeSchema);
  for (const k of MAP) {
    if (isNode(out[k])) out[k] = Object.fromEntries(Object.entries(out[k] as Node).map(([name, s]) => [name, jsonSafeSchema(s)]));
  }
  if (typeof out.pattern === 'string') out.pattern = jsonSafePattern(out.pattern);
  const bounded = out.minLength !== undefined || out.maxLength !== undefined;
  if (out.type === 'string' && bounded && out.pattern === undefined && out.format === undefined) {
    const min = Number.isSafeInteger(out.minLength) ? (out.minLength as number) : 0;
    const max = Number.isSafeInteger(out.maxLength) ? String(out.maxLength) : '';
    out.pattern = `^${SAFE_CHAR}{${min},${max}}$`;
    // XGrammar ignores (and warns about) lengths beside a pattern: the pattern carries them.
    delete out.minLength;
    delete out.maxLength;
  }
  return out;
}
