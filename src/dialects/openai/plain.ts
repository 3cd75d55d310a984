import type { ChatChunk, ChatCompletion, ChatRequest } from './schema.js';
import { isRecord } from '../../json.js';

// zod (schema.ts) defines what a valid chat request, answer and stream chunk are, and words every error. Most of
// them are of one plain shape, though: text messages and scalar sampling fields (what DeepFabric and the openai
// SDKs send for generation and evaluation), and text answers without tool calls. For those, these checks apply
// the same rules directly and return the value as zod would; anything else (tools, content parts,
// response_format, a value of another type or out of range) returns undefined and goes to zod. Validating the
// request was the largest single step before it leaves for its target (~0.13 ms of ~0.5 ms on a cold path), and
// every chunk of a stream was validated too. test/unit/dialects/plain-*.test.ts hold these to zod's answers.

type Obj = Record<string, unknown>;

const absent = (v: unknown): boolean => v === undefined || v === null;
const numberIn = (v: unknown, min: number, max: number): boolean => typeof v === 'number' && v >= min && v <= max;
const intFrom = (v: unknown, min: number): boolean => Number.isSafeInteger(v) && (v as number) >= min;
const optionalString = (v: unknown): boolean => v === undefined || typeof v === 'string';
const nullishString = (v: unknown): boolean => absent(v) || typeof v === 'string';
const FINISH_REASONS = new Set<unknown>(['stop', 'length', 'tool_calls', 'content_filter', 'function_call']);

/** Each top-level field's rule for the plain shape: nullish fields may be null, optional ones only absent. */
const FIELDS = new Map<string, (v: unknown) => boolean>([
  ['stream', (v) => absent(v) || typeof v === 'boolean'],
  ['stream_options', (v) => absent(v) || (isRecord(v) && (v.include_usage === undefined || typeof v.include_usage === 'boolean'))],
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
  ['metadata', (v) => v === undefined || (isRecord(v) && Object.values(v).every((s) => typeof s === 'string'))],
  // Left to zod whenever present.
  ['tools', (v) => v === undefined],
  ['tool_choice', (v) => v === undefined],
  ['response_format', (v) => v === undefined],
]);

/** One message with text content; any other content, or tool calls, is left to zod. */
function plainMessage(m: unknown): boolean {
  if (!isRecord(m) || !optionalString(m.name)) return false;
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
  if (!isRecord(body) || typeof body.model !== 'string' || body.model === '') return undefined;
  const messages = body.messages;
  if (!Array.isArray(messages) || messages.length === 0) return undefined;
  for (const m of messages) if (!plainMessage(m)) return undefined;
  for (const key in body) {
    const rule = FIELDS.get(key);
    if (rule !== undefined ? !rule(body[key]) : key === '__proto__') return undefined;
  }
  return body as ChatRequest;
}

// ---- answers -------------------------------------------------------------------------------------------

function plainHead(v: Obj, object: string): boolean {
  return typeof v.id === 'string' && v.object === object && typeof v.created === 'number' && typeof v.model === 'string' && Array.isArray(v.choices);
}

function plainUsage(u: unknown): boolean {
  return isRecord(u) && typeof u.prompt_tokens === 'number' && typeof u.completion_tokens === 'number' && typeof u.total_tokens === 'number';
}

/** Text from the assistant, without tool calls; undefined (zod decides) otherwise. */
function plainText(m: unknown, role: 'required' | 'optional'): boolean {
  return (
    isRecord(m) &&
    (m.role === 'assistant' || (role === 'optional' && m.role === undefined)) &&
    nullishString(m.refusal) &&
    m.tool_calls === undefined
  );
}

export function plainChatCompletion(json: unknown): ChatCompletion | undefined {
  if (!isRecord(json) || !plainHead(json, 'chat.completion')) return undefined;
  if (json.usage !== undefined && !plainUsage(json.usage)) return undefined;
  for (const c of json.choices as unknown[]) {
    if (!isRecord(c) || typeof c.index !== 'number' || !(c.finish_reason === null || FINISH_REASONS.has(c.finish_reason))) return undefined;
    const m = c.message;
    if (!plainText(m, 'required') || !(typeof (m as Obj).content === 'string' || (m as Obj).content === null)) return undefined;
  }
  return json as ChatCompletion;
}

export function plainChatChunk(json: unknown): ChatChunk | undefined {
  if (!isRecord(json) || !plainHead(json, 'chat.completion.chunk')) return undefined;
  if (json.usage !== undefined && json.usage !== null && !plainUsage(json.usage)) return undefined;
  for (const c of json.choices as unknown[]) {
    if (!isRecord(c) || typeof c.index !== 'number') return undefined;
    if (!(c.finish_reason === undefined || c.finish_reason === null || FINISH_REASONS.has(c.finish_reason))) return undefined;
    if (!plainText(c.delta, 'optional') || !nullishString((c.delta as Obj).content)) return undefined;
  }
  return json as ChatChunk;
}
