import type { ChatChunk, ChatCompletion, ChatMessage, ChatRequest, Usage } from '../dialects/openai/schema.js';
import { HeddleError } from '../errors.js';
import type { CallContext, ProviderAdapter, Target } from '../providers/types.js';
import { EMULATION_ATTEMPTS, type StructuredOutputMode } from './config.js';
import { extractJson } from './extract.js';
import { validateJson, type JsonSchema, type SchemaViolation } from './validate.js';

// Structured output for targets that cannot enforce a schema (an upstream FastLLM server without constrained
// decoding, many Ollama models): an adapter decorator that instructs the model with the schema, extracts the
// JSON from its answer, validates it, and asks again with the problems named, up to EMULATION_ATTEMPTS times.
// A request that never validates fails with a 422 naming the first problems; invalid JSON never goes out as a
// 200. Targets marked native pass through, but their JSON answers are still unwrapped from code fences and
// <think> blocks, so clients that parse the content as JSON (outlines, DeepFabric) get bare JSON.

/** What the client asked for: a schema (json_schema) or any JSON object (json_object). */
export interface JsonWanted {
  name: string;
  schema: JsonSchema | undefined;
}

export function jsonWanted(req: ChatRequest): JsonWanted | undefined {
  const format = req.response_format;
  if (format?.type === 'json_schema') return { name: format.json_schema.name, schema: format.json_schema.schema ?? true };
  if (format?.type === 'json_object') return { name: 'json_object', schema: { type: 'object' } };
  return undefined;
}

/** Matches the phrasing the bundled demo model was trained on (native-server/demo-model/data.py). */
export function schemaInstruction(wanted: JsonWanted): string {
  if (wanted.name === 'json_object') return 'Respond with a single valid JSON object and nothing else: no prose, no code fences.';
  return `Respond with a JSON object that matches this JSON schema:\n${JSON.stringify(compactSchema(wanted.schema))}`;
}

const ANNOTATIONS = new Set(['title', 'description', 'examples', 'default', '$comment', 'deprecated', 'readOnly', 'writeOnly']);

/**
 * The schema without annotations (titles, descriptions, examples): the constraints are what the answer is checked
 * against, and every token counts on small-context local models (DeepFabric's conversation schema halves).
 * Property names are kept even when they are called `title` or `description`.
 */
export function compactSchema(schema: unknown, inProperties = false): unknown {
  if (Array.isArray(schema)) return schema.map((s) => compactSchema(s));
  if (typeof schema !== 'object' || schema === null) return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (!inProperties && ANNOTATIONS.has(key)) continue;
    out[key] = compactSchema(value, !inProperties && (key === 'properties' || key === '$defs' || key === 'definitions'));
  }
  return out;
}

/** The request an emulating target gets: no response_format, the schema as a system instruction. */
export function instructedRequest(req: ChatRequest, wanted: JsonWanted): ChatRequest {
  const { response_format: _dropped, ...rest } = req;
  const instruction: ChatMessage = { role: 'system', content: schemaInstruction(wanted) };
  const [first, ...others] = req.messages;
  // One system message: small chat templates often accept only one, and only first.
  const messages: ChatMessage[] =
    first?.role === 'system' && typeof first.content === 'string'
      ? [{ ...first, content: `${first.content}\n\n${schemaInstruction(wanted)}` }, ...others]
      : [instruction, ...req.messages];
  return { ...rest, messages };
}

export type ModeOf = (target: Target) => StructuredOutputMode;

export function withStructuredOutput(inner: ProviderAdapter, modeOf: ModeOf): ProviderAdapter {
  // Not async: a request that asks for no JSON is the inner adapter's promise itself, without another one around it.
  return {
    chat(req, ctx) {
      const wanted = jsonWanted(req);
      if (wanted === undefined) return inner.chat(req, ctx);
      if (modeOf(ctx.target) === 'native') return inner.chat(req, ctx).then(unwrapJson);
      return emulate(inner, req, wanted, ctx);
    },

    chatStream(req, ctx) {
      const wanted = jsonWanted(req);
      if (wanted === undefined || modeOf(ctx.target) === 'native') return inner.chatStream(req, ctx);
      // A validated answer is only known once complete, so it is streamed after the fact.
      const include = req.stream_options?.include_usage === true;
      return emulate(inner, { ...req, stream: false }, wanted, ctx).then((completion) => asChunks(completion, include));
    },

    embeddings: (req, ctx) => inner.embeddings(req, ctx),
  };
}

async function emulate(inner: ProviderAdapter, req: ChatRequest, wanted: JsonWanted, ctx: CallContext): Promise<ChatCompletion> {
  const base = instructedRequest(req, wanted);
  let messages = base.messages;
  let usage: Usage | undefined;
  let problem = '';
  for (let attempt = 1; attempt <= EMULATION_ATTEMPTS; attempt++) {
    const completion = await inner.chat({ ...base, messages, stream: false }, ctx);
    usage = addUsage(usage, completion.usage);
    const choice = completion.choices[0];
    const message = choice?.message;
    if (!choice || !message) {
      problem = 'the target returned no choice';
      continue;
    }
    // A tool call is an answer in its own right: the schema applies to text answers.
    if (message.tool_calls && message.tool_calls.length > 0) return { ...completion, usage };
    const text = message.content ?? '';
    const checked = checkAnswer(text, wanted);
    if (checked.ok) {
      return {
        ...completion,
        choices: [{ ...choice, message: { ...message, content: checked.json, refusal: null }, finish_reason: 'stop' }],
        ...(usage ? { usage } : {}),
      };
    }
    problem = checked.problem;
    messages = [
      ...base.messages,
      { role: 'assistant', content: text },
      { role: 'user', content: `That answer is not valid: ${problem}. Reply again with only the JSON.` },
    ];
  }
  // 422, not 5xx: the model was asked EMULATION_ATTEMPTS times already, and clients retry 5xx with backoff (the
  // openai SDK twice, DeepFabric five times more, up to a minute apart), which multiplies a failure that another
  // try of the same small model rarely fixes.
  throw new HeddleError({
    status: 422,
    type: 'upstream_error',
    code: 'structured_output_invalid',
    target: ctx.target.name,
    // Already tried EMULATION_ATTEMPTS times; the attempt loop does not repeat it (see resilience/retry.ts).
    retryable: false,
    message: `Target '${ctx.target.name}' did not produce JSON matching the schema '${wanted.name}' in ${EMULATION_ATTEMPTS} attempts (last problem: ${problem}).`,
  });
}

export type CheckedAnswer = { ok: true; json: string } | { ok: false; problem: string };

export function checkAnswer(text: string, wanted: JsonWanted): CheckedAnswer {
  const extracted = extractJson(text);
  if (!extracted.ok) return { ok: false, problem: extracted.reason };
  const violations = wanted.schema === undefined ? [] : validateJson(wanted.schema, extracted.value);
  if (violations.length > 0) return { ok: false, problem: describe(violations) };
  return { ok: true, json: JSON.stringify(extracted.value) };
}

function describe(violations: SchemaViolation[]): string {
  return violations
    .slice(0, 3)
    .map((v) => `${v.path === '' ? 'the value' : v.path} ${v.message}`)
    .join('; ');
}

/** Native answers: bare JSON content when the text holds JSON wrapped in fences or think blocks. */
function unwrapJson(completion: ChatCompletion): ChatCompletion {
  return {
    ...completion,
    choices: completion.choices.map((choice) => {
      const content = choice.message.content;
      if (content == null || isJson(content)) return choice;
      const extracted = extractJson(content);
      return extracted.ok ? { ...choice, message: { ...choice.message, content: JSON.stringify(extracted.value) } } : choice;
    }),
  };
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

function addUsage(a: Usage | undefined, b: Usage | undefined): Usage | undefined {
  if (!a) return b;
  if (!b) return a;
  return {
    prompt_tokens: a.prompt_tokens + b.prompt_tokens,
    completion_tokens: a.completion_tokens + b.completion_tokens,
    total_tokens: a.total_tokens + b.total_tokens,
  };
}

async function* asChunks(completion: ChatCompletion, includeUsage: boolean): AsyncIterable<ChatChunk> {
  const base = { id: completion.id, object: 'chat.completion.chunk' as const, created: completion.created, model: completion.model };
  for (const choice of completion.choices) {
    const { content, tool_calls } = choice.message;
    yield { ...base, choices: [{ index: choice.index, delta: { role: 'assistant', content: '' }, finish_reason: null }] };
    if (content) yield { ...base, choices: [{ index: choice.index, delta: { content }, finish_reason: null }] };
    if (tool_calls && tool_calls.length > 0) {
      const deltas = tool_calls.map((call, index) => ({ index, id: call.id, type: 'function' as const, function: call.function }));
      yield { ...base, choices: [{ index: choice.index, delta: { tool_calls: deltas }, finish_reason: null }] };
    }
    yield { ...base, choices: [{ index: choice.index, delta: {}, finish_reason: choice.finish_reason ?? 'stop' }] };
  }
  if (includeUsage && completion.usage) yield { ...base, choices: [], usage: completion.usage };
}
