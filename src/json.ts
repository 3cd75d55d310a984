// Shapes of parsed JSON values, shared by the dialects, the providers, the privacy stage and the schema validator.

/** A JSON object: not null, not an array. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * How deep JSON may nest: far beyond any real request or answer (a tool's JSON Schema nests a dozen levels), and far
 * below the few thousand levels at which V8's JSON.stringify and Heddle's own recursive walks run out of stack, which
 * would turn an odd body from a client or a target into a 500.
 */
export const MAX_JSON_DEPTH = 128;

/** JSON text nested deeper than MAX_JSON_DEPTH; `path` leads to the first value too deep. */
export class JsonTooDeep extends SyntaxError {
  constructor(readonly path: PropertyKey[]) {
    super(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    this.name = 'JsonTooDeep';
  }
}

/** JSON.parse that also refuses nesting deeper than MAX_JSON_DEPTH (a JsonTooDeep, which is a SyntaxError). */
export function parseJson(text: string): unknown {
  const value: unknown = JSON.parse(text);
  const path = pathTooDeep(value, MAX_JSON_DEPTH);
  if (path !== undefined) throw new JsonTooDeep(path);
  return value;
}

/** The path to the first object or array below `levels` levels of nesting, or undefined when there is none. */
function pathTooDeep(value: unknown, levels: number): PropertyKey[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (levels === 0) return [];
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const path = pathTooDeep(value[i], levels - 1);
      if (path !== undefined) return [i, ...path];
    }
    return undefined;
  }
  for (const key in value) {
    const path = pathTooDeep((value as Record<string, unknown>)[key], levels - 1);
    if (path !== undefined) return [key, ...path];
  }
  return undefined;
}

/**
 * Tool call arguments (JSON text, as OpenAI's wire carries them) as the object the Anthropic and Ollama wires carry:
 * empty text is `{}`, and text that is not a JSON object is kept under `arguments` rather than lost.
 */
export function argumentsObject(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  try {
    const value = parseJson(text);
    if (isRecord(value)) return value;
  } catch {
    // not JSON: kept as text below
  }
  return { arguments: text };
}
