import type { ChatRequest } from './schema.js';

// zod (schema.ts) defines what a valid chat request is and words every error. Most requests are of one plain
// shape, though: text messages and scalar sampling fields, which is what DeepFabric and the openai SDKs send for
// generation and evaluation. For those, this checks the same rules directly and returns the request as zod
// would; anything else (tools, content parts, response_format, a value out of range, a field of another type)
// returns undefined and goes to zod. Validation was the largest single step before a request leaves for its
// target (~0.13 ms of ~0.5 ms on a cold path); test/unit/dialects/plain-request.test.ts holds this to zod's answers.

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const absent = (v: unknown): boolean => v === undefined || v === null;
const numberIn = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && v >= min && v <= max;
const intFrom = (v: unknown, min: number): boolean => Number.isSafeInteger(v) && (v as number) >= min;
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const nullishString = (v: unknown): boolean => absent(v) || typeof v === 'string';

/** Each top-level field's rule for the plain shape: nullish fields may be null, optional ones only absent. */
const FIELDS = new Map<string, (v: unknown) => boolean>([
  ['stream', (v) => absent(v) || typeof v === 'boolean'],
  ['stream_options', (v) => absent(v) || (isObject(v) && (v.include_usage === undefined || typeof v.include_usage === 'boolean'))],
  ['temperature', (v) => absent(v) || numberIn(v, 0, 2)],
  ['top_p', (v) => absent(v) || numberIn(v, 0, 1)],
  ['n', (v) => absent(v) || (intFrom(v, 1) && (v as number) <= 128)],
  ['stop', (v) => absent(v) || typeof v === 'string' || (Array.isArray(v) && v.length <= 4 && v.every((s) => typeof s === 'string'))],
  ['seed', (v) => absent(v) || Number.isSafeInteger(v)],
  ['max_tokens', (v) => absent(v) || intFrom(v, 1)],
  ['max_completion_tokens', (v) => absent(v) || intFrom(v, 1)],
  ['presence_penalty', (v) => absent(v) || numberIn(v, -2, 2)],
  ['frequency_penalty', (v) => absent(v) || numberIn(v, -2, 2)],
  ['parallel_tool_calls', (v) => v === undefined || typeof v === 'boolean'],
  ['user', optionalString],
  ['metadata', (v) => v === undefined || (isObject(v) && Object.values(v).every((s) => typeof s === 'string'))],
  // Left to zod whenever present.
  ['tools', (v) => v === undefined],
  ['tool_choice', (v) => v === undefined],
  ['response_format', (v) => v === undefined],
]);

/** One message with text content; any other content, or tool calls, is left to zod. */
function plainMessage(m: unknown): boolean {
  if (!isObject(m) || !optionalString(m.name)) return false;
  switch (m.role) {
    case 'system':
    case 'developer':
    case 'user':
      return typeof m.content === 'string';
    case 'assistant':
      return nullishString(m.content) && nullishString(m.refusal) && m.tool_calls === undefined;
    case 'tool':
      return typeof m.content === 'string' && typeof m.tool_call_id === 'string';
    default:
      return false;
  }
}

/** The request if it has the plain shape and is valid; undefined to let zod decide (and word any error). */
export function plainChatRequest(body: unknown): ChatRequest | undefined {
  if (!isObject(body) || typeof body.model !== 'string' || body.model === '') return undefined;
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  for (const m of messages) if (!plainMessage(m)) return undefined;
  for (const key in body) {
    const rule = FIELDS.get(key);
    if (rule !== undefined ? !rule(body[key]) : key === '__proto__') return undefined;
  }
  return body as ChatRequest;
}
