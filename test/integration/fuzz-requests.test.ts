import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayOverFakeOpenAi, type TestGateway } from '../support/gateway.js';
import { Mutator, toText, type Json } from '../support/mutate.js';

// Seeded fuzzing of every POST endpoint in its three dialects: valid bodies with values replaced, removed or added
// (wrong types, extremes, odd strings, 100,000 levels of nesting), and bodies that are not JSON objects at all.
// Each answer is a success or a 4xx in the endpoint's own error shape; never a 5xx, never a bug in the log. With
// src/ as it was at 05ac41d, three of these requests were answered 500 (JSON.stringify ran out of stack).

const SEED = 20261128;
const REQUESTS = 1500;

let gateway: TestGateway;
let stop: (() => Promise<void>) | undefined;
const logged: { level: string; message: string; fields?: Record<string, unknown> }[] = [];

beforeAll(async () => {
  ({ gateway, close: stop } = await startGatewayOverFakeOpenAi(
    (up) => `
version: 1
targets:
  up: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
models:
  chat: { up: echo }
routes:
  - { match: { model: chat }, targets: [up] }
`,
    { log: (level, message, fields) => logged.push({ level, message, fields }) },
  ));
});

afterAll(() => stop?.());

const chat: Json = {
  model: 'chat',
  messages: [
    { role: 'system', content: 'be brief' },
    { role: 'user', content: [{ type: 'text', text: 'hi' }] },
    { role: 'assistant', content: null, tool_calls: [{ id: 'c1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
    { role: 'tool', tool_call_id: 'c1', content: 'r' },
  ],
  max_tokens: 5,
  temperature: 0,
  tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'number' } } } } }],
  tool_choice: 'auto',
  response_format: { type: 'json_schema', json_schema: { name: 's', schema: { type: 'object' } } },
  stop: ['x'],
  seed: 1,
  stream_options: { include_usage: true },
};

/** A valid body per endpoint, each using most of what its dialect allows. */
const BODIES: Record<string, Json> = {
  '/v1/chat/completions': chat,
  '/v1/heddle/explain': chat,
  '/v1/embeddings': { model: 'chat', input: ['a', 'b'], encoding_format: 'float' },
  '/v1/messages': {
    model: 'chat',
    max_tokens: 10,
    system: [{ type: 'text', text: 's' }],
    messages: [
      { role: 'user', content: [{ type: 'text', text: 'hi' }] },
      { role: 'assistant', content: [{ type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } }] },
      { role: 'user', content: [{ type: 'tool_result', tool_use_id: 't1', content: [{ type: 'text', text: 'r' }] }] },
    ],
    tools: [{ name: 'f', input_schema: { type: 'object' } }],
    tool_choice: { type: 'auto' },
    stop_sequences: ['x'],
  },
  '/v1/messages/count_tokens': { model: 'chat', messages: [{ role: 'user', content: 'hi' }] },
  '/api/chat': {
    model: 'chat',
    messages: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'f', arguments: { a: 1 } } }] },
      { role: 'tool', content: 'r' },
    ],
    stream: false,
    format: { type: 'object' },
    options: { temperature: 0, num_predict: 5, stop: ['x'], seed: 1 },
    tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object' } } }],
  },
  '/api/generate': { model: 'chat', prompt: 'hi', system: 's', stream: false, format: 'json', options: { num_predict: 5 } },
  '/api/embed': { model: 'chat', input: ['a'] },
  '/api/embeddings': { model: 'chat', prompt: 'a' },
  '/api/show': { model: 'chat' },
};

const NOT_OBJECTS = ['', ' ', '{', '[]', '1', 'null', '"x"', '{"model":', '{"a":1}{"b":2}', '\ufeff{"model":"chat"}'];
const CONTENT_TYPES = ['application/json', 'text/plain', '', 'application/x-www-form-urlencoded'];

/** Whether `body` is an error in the dialect `path` speaks. */
function isDialectError(path: string, body: unknown): boolean {
  const b = body as { type?: unknown; error?: { message?: unknown; type?: unknown } | string };
  if (path.startsWith('/v1/messages')) return b.type === 'error' && typeof b.error === 'object' && typeof b.error.message === 'string';
  if (path.startsWith('/api/')) return typeof b.error === 'string' && b.error !== '';
  return typeof b.error === 'object' && typeof b.error.message === 'string' && typeof b.error.type === 'string';
}

describe(`fuzzed requests (seed ${SEED})`, () => {
  it('each answer is a success or a 4xx in its dialect, never a 5xx or a logged bug', { timeout: 120_000 }, async () => {
    const fuzz = new Mutator(SEED);
    const paths = Object.keys(BODIES);
    const failures: string[] = [];
    const statuses = new Map<number, number>();
    let sent = 0;
    const worker = async () => {
      while (sent < REQUESTS) {
        const n = sent++;
        const path = fuzz.pick(paths);
        let text: string;
        if (fuzz.chance(0.1)) text = fuzz.pick(NOT_OBJECTS);
        else {
          const body = fuzz.mutate(BODIES[path] as Json);
          if (typeof body === 'object' && body !== null && !Array.isArray(body) && fuzz.chance(0.3)) body.stream = true;
          text = toText(body);
        }
        const headers: Record<string, string> = { 'content-type': fuzz.pick(CONTENT_TYPES) };
        if (fuzz.chance(0.1)) headers['x-heddle-privacy'] = fuzz.pick(['public', 'restricted', 'bogus', '']);
        if (fuzz.chance(0.1)) headers.authorization = fuzz.pick(['Bearer ', 'Bearer x', 'Basic abc']);
        const res = await fetch(`${gateway.url}${path}`, { method: 'POST', headers, body: text });
        const answer = await res.text();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        const what = `#${n} ${path} -> ${res.status} ${answer.slice(0, 200)} <- ${text.slice(0, 300)}`;
        if (res.status >= 500) failures.push(what);
        else if (res.status >= 400) {
          let body: unknown;
          try {
            body = JSON.parse(answer);
          } catch {
            body = undefined;
          }
          if (!isDialectError(path, body)) failures.push(`not a ${path} error: ${what}`);
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));

    expect(failures).toEqual([]);
    expect(logged.filter((l) => l.level === 'error')).toEqual([]);
    // The mix reached both sides: plenty of answers, plenty of refusals.
    const ok = statuses.get(200) ?? 0;
    const refused = [...statuses].filter(([s]) => s >= 400).reduce((sum, [, n]) => sum + n, 0);
    expect(ok).toBeGreaterThan(REQUESTS / 10);
    expect(refused).toBeGreaterThan(REQUESTS / 2);
    // And the gateway still serves.
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: 'still here' }] }),
    });
    expect(res.status).toBe(200);
  });
});
