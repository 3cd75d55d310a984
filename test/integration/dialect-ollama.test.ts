import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { startGatewayOverFakeOpenAi, type TestGateway } from '../support/gateway.js';

// Ollama's native API on Heddle, over real HTTP, to a loopback OpenAI-wire target: what the `ollama` client
// (and DeepFabric's `evaluate --backend ollama`) sends, and the answers, NDJSON streams and errors it expects.

let upstream: FakeOpenAi;
let gateway: TestGateway;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ upstream, gateway, close: stop } = await startGatewayOverFakeOpenAi(
    (up) => `
version: 1
targets:
  up: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
  emu: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted, structured_output: emulate }
  # Its own target: after a 429 with Retry-After the attempt stage cools the target down.
  busy: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
models:
  chat: { up: echo }
  tooly: { up: tool }
  jsony: { emu: json }
  limited: { busy: error-429 }
routes:
  - { name: emulated, match: { model: jsony }, targets: [emu] }
  - { name: busy, match: { model: limited }, targets: [busy] }
  - { name: rest, match: { model: "*" }, targets: [up] }
`,
  ));
});

afterAll(() => stop?.());

const post = (path: string, body: unknown) =>
  fetch(`${gateway.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function ndjson(res: Response): Promise<Array<Record<string, unknown>>> {
  const text = await res.text();
  return text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('POST /api/chat', () => {
  it('answers stream:false with Ollama options translated to the canonical request', async () => {
    const res = await post('/api/chat', {
      model: 'chat:latest',
      messages: [{ role: 'user', content: 'hello ollama' }],
      stream: false,
      options: { temperature: 0.2, num_predict: 64, top_p: 0.9 },
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'chat:latest', message: { role: 'assistant', content: 'echo: hello ollama' }, done: true, done_reason: 'stop' });
    expect(body.eval_count).toBe(3);
    expect(body.prompt_eval_count).toBe(2);
    expect(typeof body.total_duration).toBe('number');
    const sent = upstream.requests.at(-1)?.body;
    expect(sent).toMatchObject({ model: 'echo', temperature: 0.2, max_tokens: 64, top_p: 0.9, stream: false });
    expect(res.headers.get('x-heddle-route')).toBe('rest');
  });

  it('streams NDJSON by default, ending with a done object that carries the counts', async () => {
    const res = await post('/api/chat', { model: 'chat', messages: [{ role: 'user', content: 'one two three' }] });
    expect(res.headers.get('content-type')).toContain('application/x-ndjson');
    const lines = await ndjson(res);
    const text = lines.map((l) => (l.message as { content: string }).content).join('');
    expect(text).toBe('echo: one two three');
    const last = lines.at(-1);
    expect(last).toMatchObject({ done: true, done_reason: 'stop', eval_count: 4, prompt_eval_count: 3 });
    expect(lines.slice(0, -1).every((l) => l.done === false)).toBe(true);
  });

  it('returns tool calls with object arguments, streamed whole before the done object', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', description: 'w', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const res = await post('/api/chat', { model: 'tooly', messages: [{ role: 'user', content: 'weather?' }], tools, stream: false });
    const body = (await res.json()) as { message: { tool_calls: Array<{ function: { name: string; arguments: unknown } }> } };
    expect(body.message.tool_calls[0]?.function).toMatchObject({ name: 'get_weather', arguments: { city: 'Paris' } });
    expect(upstream.requests.at(-1)?.body?.tools).toEqual(tools);

    const streamed = await ndjson(await post('/api/chat', { model: 'tooly', messages: [{ role: 'user', content: 'weather?' }], tools }));
    const withCalls = streamed.filter((l) => (l.message as { tool_calls?: unknown[] }).tool_calls);
    expect(withCalls).toHaveLength(1);
    expect((withCalls[0]?.message as { tool_calls: Array<{ function: unknown }> }).tool_calls[0]?.function).toMatchObject({ name: 'get_weather', arguments: { city: 'Paris' } });
    expect(streamed.at(-1)?.done).toBe(true);
  });

  it('links a tool result to the call before it, with object or string arguments (DeepFabric sends strings)', async () => {
    const res = await post('/api/chat', {
      model: 'chat',
      stream: false,
      messages: [
        { role: 'user', content: 'weather in Paris?' },
        { role: 'assistant', content: '', tool_calls: [{ function: { name: 'get_weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', content: '{"temp": 21}', tool_name: 'get_weather' },
        { role: 'user', content: 'thanks' },
      ],
    });
    expect(res.status).toBe(200);
    const sent = upstream.requests.at(-1)?.body as { messages: Array<Record<string, unknown>> };
    const call = (sent.messages[1]?.tool_calls as Array<{ id: string; function: { arguments: string } }>)[0];
    expect(call?.function.arguments).toBe('{"city":"Paris"}');
    expect(sent.messages[2]).toMatchObject({ role: 'tool', tool_call_id: call?.id, content: '{"temp": 21}' });
  });

  it('emulates format (a JSON schema) on a target marked structured_output: emulate', async () => {
    const format = { type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer' } }, required: ['ok', 'n'] };
    const res = await post('/api/chat', { model: 'jsony', messages: [{ role: 'user', content: 'give json' }], format, stream: false });
    const body = (await res.json()) as { message: { content: string } };
    expect(JSON.parse(body.message.content)).toEqual({ ok: true, n: 1 });
    const sent = upstream.requests.at(-1)?.body as { messages: Array<{ role: string; content: string }>; response_format?: unknown };
    expect(sent.response_format).toBeUndefined();
    expect(sent.messages[0]?.content).toContain('Respond with a JSON object that matches this JSON schema');
  });

  it('sends format to a native target as response_format', async () => {
    await post('/api/chat', { model: 'chat', messages: [{ role: 'user', content: 'x' }], format: 'json', stream: false });
    expect(upstream.requests.at(-1)?.body?.response_format).toEqual({ type: 'json_object' });
  });

  it("answers errors in Ollama's shape, and a rate limit as 503 with Retry-After", async () => {
    const bad = await post('/api/chat', { messages: [] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: expect.stringContaining('model') });

    const limited = await post('/api/chat', { model: 'limited', messages: [{ role: 'user', content: 'x' }], stream: false });
    expect(limited.status).toBe(503);
    expect(limited.headers.get('retry-after')).toBeTruthy();
    expect(Object.keys((await limited.json()) as object)).toEqual(['error']);
  });
});

describe('the other Ollama endpoints', () => {
  it('/api/generate answers with `response`, and streams', async () => {
    const res = await post('/api/generate', { model: 'chat', prompt: 'say hi', system: 'be brief', stream: false });
    expect(await res.json()).toMatchObject({ model: 'chat', response: 'echo: say hi', done: true });
    expect((upstream.requests.at(-1)?.body?.messages as unknown[])[0]).toEqual({ role: 'system', content: 'be brief' });
    const lines = await ndjson(await post('/api/generate', { model: 'chat', prompt: 'a b' }));
    expect(lines.map((l) => l.response).join('')).toBe('echo: a b');
    expect(lines.at(-1)?.done).toBe(true);
  });

  it('/api/embed returns float vectors; /api/embeddings the legacy single vector', async () => {
    const res = await post('/api/embed', { model: 'chat', input: ['ab c', 'd'] });
    expect(await res.json()).toMatchObject({ model: 'chat', embeddings: [[4, 2, 1], [1, 1, 1]] });
    const legacy = await post('/api/embeddings', { model: 'chat', prompt: 'ab c' });
    expect(await legacy.json()).toEqual({ embedding: [4, 2, 1] });
  });

  it('/api/show describes a routable model with model_info and capabilities', async () => {
    const res = await post('/api/show', { model: 'chat' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body.model_info).toMatchObject({ 'general.architecture': 'heddle', 'heddle.route': 'rest' });
    expect(body.capabilities).toContain('tools');
  });

  it('/api/tags, /api/version and /api/ps', async () => {
    const tags = (await (await fetch(`${gateway.url}/api/tags`)).json()) as { models: Array<{ name: string }> };
    expect(tags.models.map((m) => m.name)).toContain('chat:latest');
    expect(await (await fetch(`${gateway.url}/api/version`)).json()).toEqual({ version: expect.any(String) });
    expect(await (await fetch(`${gateway.url}/api/ps`)).json()).toEqual({ models: [] });
  });
});
