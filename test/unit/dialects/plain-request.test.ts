import { describe, expect, it } from 'vitest';
import { plainChatRequest } from '../../../src/dialects/openai/plain.js';
import { chatRequestSchema } from '../../../src/dialects/openai/schema.js';

// The plain-shape check may only ever say yes where zod says yes, with the same value; where it says no, zod
// decides. Every field of the request is varied over valid, boundary and invalid values, alone and in messages,
// and the common requests of DeepFabric and the openai SDKs must take the plain path (or it saves nothing).

const base = {
  model: 'heddle-demo',
  messages: [
    { role: 'system', content: 'You are a helpful assistant.' },
    { role: 'user', content: 'Write a question about chemistry.' },
  ],
};

const values: unknown[] = [
  undefined, null, true, false, 0, 1, -1, 0.5, 1.5, 2, 2.5, -2, -2.5, 3, 4, 128, 129, 2 ** 53, 2 ** 53 - 1, -(2 ** 53) + 1,
  '', 'x', 'stop', [], ['a'], ['a', 'b', 'c', 'd'], ['a', 'b', 'c', 'd', 'e'], [1], {}, { include_usage: true },
  { include_usage: 'yes' }, { include_usage: false, extra: 1 }, { a: 'b' }, { a: 1 }, [{ type: 'function', function: { name: 'f' } }],
];

const fields = [
  'stream', 'stream_options', 'temperature', 'top_p', 'n', 'stop', 'seed', 'max_tokens', 'max_completion_tokens',
  'presence_penalty', 'frequency_penalty', 'parallel_tool_calls', 'user', 'metadata', 'tools', 'tool_choice',
  'response_format', 'unknown_extension', 'model',
];

const LEFT_TO_ZOD = new Set(['tools', 'tool_choice', 'response_format']);

const messageVariants: unknown[] = [
  { role: 'user', content: 'hi' },
  { role: 'user', content: 'hi', name: 'ann' },
  { role: 'user', content: 'hi', name: 3 },
  { role: 'user', content: '' },
  { role: 'user', content: null },
  { role: 'user' },
  { role: 'user', content: [{ type: 'text', text: 'hi' }] },
  { role: 'user', content: 7 },
  { role: 'user', content: 'hi', extra: { nested: true } },
  { role: 'developer', content: 'be brief' },
  { role: 'system', content: 'be brief' },
  { role: 'assistant', content: 'ok' },
  { role: 'assistant', content: null },
  { role: 'assistant' },
  { role: 'assistant', content: 'ok', refusal: null },
  { role: 'assistant', content: 'ok', refusal: 3 },
  { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{}' } }] },
  { role: 'assistant', content: null, tool_calls: [] },
  { role: 'tool', content: '{"ok":true}', tool_call_id: 'c1' },
  { role: 'tool', content: '{"ok":true}' },
  { role: 'function', content: 'x' },
  { role: 'USER', content: 'x' },
  { content: 'x' },
  'user: hi',
  null,
  [],
];

/** zod's answer, or undefined when it rejects. */
function zodOf(body: unknown): unknown {
  const parsed = chatRequestSchema.safeParse(structuredClone(body));
  return parsed.success ? parsed.data : undefined;
}

function agrees(body: unknown): boolean {
  const plain = plainChatRequest(structuredClone(body));
  if (plain === undefined) return false;
  expect(zodOf(body), JSON.stringify(body)).toStrictEqual(plain);
  return true;
}

describe('plainChatRequest', () => {
  it('accepts only what zod accepts, as zod gives it, for every top-level field and value', () => {
    let accepted = 0;
    for (const field of fields) {
      for (const value of values) {
        const body: Record<string, unknown> = { ...base, [field]: value };
        if (value === undefined) delete body[field];
        if (agrees(body)) accepted++;
        // Scalar fields are fully covered: what zod takes, the plain path takes too.
        else if (!LEFT_TO_ZOD.has(field)) expect(zodOf(body), `${field}: ${JSON.stringify(value)}`).toBeUndefined();
      }
    }
    expect(accepted).toBeGreaterThan(100);
  });

  it('accepts only what zod accepts for every kind of message, alone and after others', () => {
    let accepted = 0;
    for (const m of messageVariants) {
      if (agrees({ ...base, messages: [m] })) accepted++;
      if (agrees({ ...base, messages: [...base.messages, m] })) accepted++;
    }
    expect(accepted).toBeGreaterThan(20);
  });

  it('leaves malformed bodies to zod', () => {
    for (const body of [null, [], 'x', 3, {}, { model: 'm' }, { messages: base.messages }, { ...base, messages: [] }, { ...base, model: '' }, { ...base, model: 3 }, { ...base, messages: {} }]) {
      expect(plainChatRequest(structuredClone(body)), JSON.stringify(body)).toBeUndefined();
    }
    expect(plainChatRequest(JSON.parse('{"model":"m","messages":[{"role":"user","content":"x"}],"__proto__":{"x":1}}'))).toBeUndefined();
  });

  it('takes the plain path for what DeepFabric and the openai SDKs send', () => {
    const common = [
      { ...base, temperature: 0.7, max_tokens: 512 },
      { ...base, temperature: 0, seed: 42, max_completion_tokens: 256, stream: false },
      { ...base, stream: true, stream_options: { include_usage: true }, top_p: 1, n: 1, stop: ['\n\n'] },
      { ...base, messages: [...base.messages, { role: 'assistant', content: 'What is H2O?' }, { role: 'user', content: 'Another.' }], presence_penalty: 0, frequency_penalty: 0, user: 'df', metadata: { run: 'eval-1' } },
    ];
    for (const body of common) expect(agrees(body), JSON.stringify(body)).toBe(true);
  });
});
