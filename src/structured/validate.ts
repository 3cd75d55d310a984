import { isRecord } from '../json.js';

// A small JSON Schema validator for the subset that structured-output clients send (DeepFabric's pydantic
// schemas, OpenAI strict mode): type (also as a list), properties, required, additionalProperties, items,
// prefixItems, min/maxItems, uniqueItems, min/maxLength, pattern, minimum/maximum (and exclusive), multipleOf,
// enum, const, anyOf, oneOf, allOf, not, $ref to #/$defs or #/definitions (or any JSON pointer in the root
// document), min/maxProperties. Unknown keywords (title, description, format, default, ...) are annotations
// and pass. Pure and runtime-free, so it runs on Workers as on Node.

export type JsonSchema = boolean | { readonly [keyword: string]: unknown };

export interface SchemaViolation {
  /** JSON pointer into the instance, "" for the root. */
  path: string;
  message: string;
}

const MAX_DEPTH = 64;
const MAX_VIOLATIONS = 8;

/** Validates `value` against `schema`; returns the first few violations (empty when valid). */
export function validateJson(schema: JsonSchema, value: unknown): SchemaViolation[] {
  const out: SchemaViolation[] = [];
  check(schema, value, '', { root: schema, out, depth: 0 });
  return out;
}

interface State {
  root: JsonSchema;
  out: SchemaViolation[];
  depth: number;
}

function check(schema: JsonSchema, value: unknown, path: string, state: State): void {
  if (state.out.length >= MAX_VIOLATIONS) return;
  if (schema === true) return;
  if (schema === false) return fail(state, path, 'no value is allowed here');
  if (state.depth > MAX_DEPTH) return fail(state, path, 'the schema nests too deeply (a $ref cycle?)');
  const s = schema;
  const inner: State = { ...state, depth: state.depth + 1 };

  if (typeof s.$ref === 'string') {
    const target = resolveRef(state.root, s.$ref);
    if (target === undefined) return fail(state, path, `the schema's $ref '${s.$ref}' does not resolve`);
    check(target, value, path, inner);
  }

  if (s.type !== undefined) {
    const types = Array.isArray(s.type) ? s.type.filter((t): t is string => typeof t === 'string') : [String(s.type)];
    if (!types.some((t) => hasType(value, t))) {
      return fail(state, path, `expected ${types.join(' or ')}, got ${typeName(value)}`);
    }
  }
  if ('const' in s && !deepEqual(s.const, value)) return fail(state, path, `must be ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((e) => deepEqual(e, value))) {
    return fail(state, path, `must be one of ${s.enum.map((e) => JSON.stringify(e)).join(', ')}`);
  }

  if (Array.isArray(s.allOf)) for (const sub of s.allOf) check(asSchema(sub), value, path, inner);
  if (Array.isArray(s.anyOf) && !s.anyOf.some((sub) => passes(asSchema(sub), value, path, inner))) {
    fail(state, path, 'matches none of the allowed alternatives (anyOf)');
  }
  if (Array.isArray(s.oneOf)) {
    const n = s.oneOf.filter((sub) => passes(asSchema(sub), value, path, inner)).length;
    if (n !== 1) fail(state, path, n === 0 ? 'matches none of the alternatives (oneOf)' : 'matches more than one alternative (oneOf)');
  }
  if (s.not !== undefined && passes(asSchema(s.not), value, path, inner)) fail(state, path, 'matches a schema it must not (not)');

  if (typeof value === 'string') checkString(s, value, path, state);
  else if (typeof value === 'number') checkNumber(s, value, path, state);
  else if (Array.isArray(value)) checkArray(s, value, path, inner);
  else if (isRecord(value)) checkObject(s, value, path, inner);
}

function checkString(s: { readonly [k: string]: unknown }, value: string, path: string, state: State): void {
  const length = [...value].length;
  if (typeof s.minLength === 'number' && length < s.minLength) fail(state, path, `must be at least ${s.minLength} characters long`);
  if (typeof s.maxLength === 'number' && length > s.maxLength) fail(state, path, `must be at most ${s.maxLength} characters long`);
  if (typeof s.pattern === 'string') {
    let re: RegExp | undefined;
    try {
      re = new RegExp(s.pattern, 'u');
    } catch {
      re = undefined; // a pattern JavaScript cannot compile is not enforced
    }
    if (re && !re.test(value)) fail(state, path, `must match the pattern ${s.pattern}`);
  }
}

function checkNumber(s: { readonly [k: string]: unknown }, value: number, path: string, state: State): void {
  if (typeof s.minimum === 'number' && value < s.minimum) fail(state, path, `must be >= ${s.minimum}`);
  if (typeof s.maximum === 'number' && value > s.maximum) fail(state, path, `must be <= ${s.maximum}`);
  if (typeof s.exclusiveMinimum === 'number' && value <= s.exclusiveMinimum) fail(state, path, `must be > ${s.exclusiveMinimum}`);
  if (typeof s.exclusiveMaximum === 'number' && value >= s.exclusiveMaximum) fail(state, path, `must be < ${s.exclusiveMaximum}`);
  if (typeof s.multipleOf === 'number' && s.multipleOf > 0) {
    const q = value / s.multipleOf;
    if (Math.abs(q - Math.round(q)) > 1e-9) fail(state, path, `must be a multiple of ${s.multipleOf}`);
  }
}

function checkArray(s: { readonly [k: string]: unknown }, value: unknown[], path: string, state: State): void {
  if (typeof s.minItems === 'number' && value.length < s.minItems) fail(state, path, `must have at least ${s.minItems} item(s)`);
  if (typeof s.maxItems === 'number' && value.length > s.maxItems) fail(state, path, `must have at most ${s.maxItems} item(s)`);
  const prefix = Array.isArray(s.prefixItems) ? s.prefixItems : [];
  prefix.forEach((sub, i) => {
    if (i < value.length) check(asSchema(sub), value[i], `${path}/${i}`, state);
  });
  if (s.items !== undefined && !Array.isArray(s.items)) {
    for (let i = prefix.length; i < value.length; i++) check(asSchema(s.items), value[i], `${path}/${i}`, state);
  }
  if (s.uniqueItems === true) {
    for (let i = 0; i < value.length; i++) {
      for (let j = i + 1; j < value.length; j++) {
        if (deepEqual(value[i], value[j])) return fail(state, path, 'items must be unique');
      }
    }
  }
}

function checkObject(s: { readonly [k: string]: unknown }, value: Record<string, unknown>, path: string, state: State): void {
  const props = isRecord(s.properties) ? s.properties : {};
  if (Array.isArray(s.required)) {
    for (const key of s.required) {
      if (typeof key === 'string' && !(key in value)) fail(state, path, `is missing the required property '${key}'`);
    }
  }
  const keys = Object.keys(value);
  if (typeof s.minProperties === 'number' && keys.length < s.minProperties) fail(state, path, `must have at least ${s.minProperties} properties`);
  if (typeof s.maxProperties === 'number' && keys.length > s.maxProperties) fail(state, path, `must have at most ${s.maxProperties} properties`);
  for (const key of keys) {
    const at = `${path}/${escapePointer(key)}`;
    if (key in props) check(asSchema(props[key]), value[key], at, state);
    else if (s.additionalProperties === false) fail(state, path, `has a property '${key}' the schema does not allow`);
    else if (s.additionalProperties !== undefined) check(asSchema(s.additionalProperties), value[key], at, state);
  }
}

function passes(schema: JsonSchema, value: unknown, path: string, state: State): boolean {
  const trial: State = { ...state, out: [] };
  check(schema, value, path, trial);
  return trial.out.length === 0;
}

function fail(state: State, path: string, message: string): void {
  if (state.out.length < MAX_VIOLATIONS) state.out.push({ path, message });
}

function resolveRef(root: JsonSchema, ref: string): JsonSchema | undefined {
  if (ref === '#') return root;
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    if (!isRecord(node) || !(key in node)) return undefined;
    node = node[key];
  }
  return typeof node === 'boolean' || isRecord(node) ? node : undefined;
}

function hasType(value: unknown, type: string): boolean {
  switch (type) {
    case 'null':
      return value === null;
    case 'boolean':
      return typeof value === 'boolean';
    case 'string':
      return typeof value === 'string';
    case 'number':
      return typeof value === 'number' && Number.isFinite(value);
    case 'integer':
      return typeof value === 'number' && Number.isInteger(value);
    case 'array':
      return Array.isArray(value);
    case 'object':
      return isRecord(value);
    default:
      return true;
  }
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number' && Number.isInteger(value)) return 'integer';
  return typeof value;
}

function asSchema(value: unknown): JsonSchema {
  return typeof value === 'boolean' || isRecord(value) ? value : true;
}

function escapePointer(key: string): string {
  return key.replace(/~/g, '~0').replace(/\//g, '~1');
}

function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => deepEqual(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length && ka.every((k) => k in b && deepEqual(a[k], b[k]));
  }
  return false;
}
