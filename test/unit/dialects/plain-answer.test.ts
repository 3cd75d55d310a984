import { describe, expect, it } from 'vitest';
import { plainChatChunk, plainChatCompletion } from '../../../src/dialects/openai/plain.js';
import { chatChunkSchema, chatCompletionSchema } from '../../../src/dialects/openai/schema.js';

// What a target sends back: the plain-shape checks may only say yes where zod says yes, with the same value, and
// must cover the plain text answers and chunks that most targets send (or they save nothing).

const completion = {
  id: 'chatcmpl-1',
  object: 'chat.completion',
  created: 1_760_000_000,
  model: 'm',
  system_fingerprint: 'fp',
  choices: [{ index: 0, message: { role: 'assistant', content: 'Hello.', refusal: null }, logprobs: null, finish_reason: 'stop' }],
  usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 },
};
const chunk = {
  id: 'chatcmpl-1',
  object: 'chat.completion.chunk',
  created: 1_760_000_000,
  model: 'm',
  choices: [{ index: 0, delta: { content: 'Hel' }, logprobs: null, finish_reason: null }],
};

const values: unknown[] = [
  undefined, null, '', 'x', 'assistant', 'user', 'stop', 'length', 'tool_calls', 'content_filter', 'function_call', 'done',
  0, 1, 1.5, true, [], [{}], {}, { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 }, { prompt_tokens: '1', completion_tokens: 1, total_tokens: 2 },
  [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }], [{ index: 0, function: { arguments: '{"a"' } }],
];

/** Every path in `obj` (objects and arrays, one level into each array) where a value can be replaced. */
function paths(obj: unknown, prefix: Array<string | number> = []): Array<Array<string | number>> {
  if (typeof obj !== 'object' || obj === null) return [];
  const out: Array<Array<string | number>> = [];
  for (const [k, v] of Object.entries(obj)) {
    const key = Array.isArray(obj) ? Number(k) : k;
    out.push([...prefix, key], ...paths(v, [...prefix, key]));
  }
  return out;
}

function withValue(obj: unknown, path: Array<string | number>, value: unknown): unknown {
  const copy = structuredClone(obj) as Record<string | number, unknown>;
  let at = copy;
  for (const k of path.slice(0, -1)) at = at[k] as Record<string | number, unknown>;
  const last = path[path.length - 1] as string | number;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return copy;
}

function check(
  name: string,
  base: unknown,
  extraPaths: Array<Array<string | number>>,
  plain: (json: unknown) => unknown,
  schema: { safeParse: (v: unknown) => { success: boolean; data?: unknown } },
) {
  it(`${name}: never accepts what zod rejects, gives what zod gives, and takes the plain text shape`, () => {
    let accepted = 0;
    for (const path of [...paths(base), ...extraPaths]) {
      for (const value of values) {
        const json = withValue(base, path, value);
        const fast = plain(structuredClone(json));
        if (fast === undefined) continue;
        accepted++;
        const zod = schema.safeParse(structuredClone(json));
        expect(zod.success, `${path.join('.')} = ${JSON.stringify(value)}`).toBe(true);
        expect(zod.data).toStrictEqual(fast);
      }
    }
    expect(accepted).toBeGreaterThan(50);
    expect(plain(structuredClone(base))).toStrictEqual(base);
  });
}

describe('plain answers', () => {
  check('chat.completion', completion, [['choices', 0, 'message', 'tool_calls'], ['choices', 1]], plainChatCompletion, chatCompletionSchema);
  check('chat.completion.chunk', chunk, [['choices', 0, 'delta', 'tool_calls'], ['choices', 0, 'delta', 'role'], ['usage'], ['choices', 1]], plainChatChunk, chatChunkSchema);

  it('leaves tool calls, non-objects and other kinds of answer to zod', () => {
    const toolCall = withValue(completion, ['choices', 0, 'message', 'tool_calls'], [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{}' } }]);
    expect(plainChatCompletion(toolCall)).toBeUndefined();
    expect(chatCompletionSchema.safeParse(toolCall).success).toBe(true);
    for (const json of [null, [], 'x', 1, chunk]) expect(plainChatCompletion(json)).toBeUndefined();
    for (const json of [null, [], 'x', 1, completion]) expect(plainChatChunk(json)).toBeUndefined();
    const finalChunk = { ...chunk, choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } };
    expect(plainChatChunk(structuredClone(finalChunk))).toStrictEqual(finalChunk);
  });
});
