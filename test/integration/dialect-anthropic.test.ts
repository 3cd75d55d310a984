import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sseBatches } from '../../src/stream/sse.js';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { startGatewayOverFakeOpenAi, type TestGateway } from '../support/gateway.js';

// Anthropic's Messages API on Heddle, over real HTTP, to a loopback OpenAI-wire target: what the anthropic SDKs
// (and DeepFabric's `provider: anthropic`) send, and the answers, SSE events and errors they expect.

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
  claude-chat: { up: echo }
  claude-tool: { up: tool }
  claude-json: { emu: json }
  claude-echo-emu: { emu: echo }
  claude-limited: { busy: error-429 }
routes:
  - { name: busy, match: { model: claude-limited }, targets: [busy] }
  - { name: emulated, match: { model: [claude-json, claude-echo-emu] }, targets: [emu] }
  - { name: rest, match: { model: "*" }, targets: [up] }
`,
  ));
});

afterAll(() => stop?.());

const HEADERS = { 'content-type': 'application/json', 'x-api-key': 'sk-ant-dummy', 'anthropic-version': '2023-06-01' };
const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${gateway.url}${path}`, { method: 'POST', headers: { ...HEADERS, ...headers }, body: JSON.stringify(body) });

async function* bytes(body: ReadableStream<Uint8Array>): AsyncIterable<Uint8Array> {
  const reader = body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return;
    yield value;
  }
}

async function events(res: Response): Promise<Array<{ event: string | undefined; data: Record<string, unknown> }>> {
  const out: Array<{ event: string | undefined; data: Record<string, unknown> }> = [];
  if (!res.body) return out;
  for await (const batch of sseBatches(bytes(res.body))) {
    for (const e of batch) out.push({ event: e.event, data: JSON.parse(e.data) as Record<string, unknown> });
  }
  return out;
}

describe('POST /v1/messages', () => {
  it('answers with a message: system, max_tokens and temperature translated', async () => {
    const res = await post('/v1/messages', {
      model: 'claude-chat',
      max_tokens: 100,
      temperature: 0.5,
      system: [{ type: 'text', text: 'be nice' }],
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hello claude' }] }],
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      type: 'message',
      role: 'assistant',
      model: 'claude-chat',
      content: [{ type: 'text', text: 'echo: hello claude' }],
      stop_reason: 'end_turn',
      stop_sequence: null,
      usage: { input_tokens: 2, output_tokens: 3 },
    });
    expect(String(body.id)).toMatch(/^msg_/);
    expect(upstream.requests.at(-1)?.body).toMatchObject({
      model: 'echo',
      max_tokens: 100,
      temperature: 0.5,
      messages: [{ role: 'system', content: 'be nice' }, { role: 'user', content: 'hello claude' }],
    });
  });

  it('turns tool_use / tool_result turns into OpenAI tool calls and answers tool calls as tool_use blocks', async () => {
    const res = await post('/v1/messages', {
      model: 'claude-tool',
      max_tokens: 50,
      tools: [{ name: 'get_weather', description: 'weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any' },
      messages: [
        { role: 'user', content: 'weather?' },
        { role: 'assistant', content: [{ type: 'text', text: 'let me see' }, { type: 'tool_use', id: 'toolu_1', name: 'get_weather', input: { city: 'Oslo' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: '-3C' }, { type: 'text', text: 'and Paris?' }] },
      ],
    });
    const body = (await res.json()) as { content: Array<Record<string, unknown>>; stop_reason: string };
    expect(body.stop_reason).toBe('tool_use');
    expect(body.content).toEqual([{ type: 'tool_use', id: expect.stringMatching(/^toolu_/), name: 'get_weather', input: { city: 'Paris' } }]);
    const sent = upstream.requests.at(-1)?.body as Record<string, unknown>;
    expect(sent.tool_choice).toBe('required');
    expect(sent.messages).toEqual([
      { role: 'user', content: 'weather?' },
      { role: 'assistant', content: 'let me see', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] },
      { role: 'tool', tool_call_id: 'toolu_1', content: '-3C' },
      { role: 'user', content: 'and Paris?' },
    ]);
  });

  it("streams Anthropic's event sequence for text", async () => {
    const res = await post('/v1/messages', { model: 'claude-chat', max_tokens: 20, stream: true, messages: [{ role: 'user', content: 'a b c' }] });
    expect(res.headers.get('content-type')).toContain('text/event-stream');
    const all = await events(res);
    const types = all.map((e) => e.event);
    expect(types[0]).toBe('message_start');
    expect(types[1]).toBe('ping');
    expect(types.slice(-4)).toEqual(['content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    expect(all.every((e) => e.event === e.data.type)).toBe(true);
    const text = all.filter((e) => e.event === 'content_block_delta').map((e) => (e.data.delta as { text: string }).text).join('');
    expect(text).toBe('echo: a b c');
    expect(all.find((e) => e.event === 'content_block_start')?.data).toEqual({ type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } });
    expect(all.find((e) => e.event === 'message_delta')?.data).toMatchObject({ delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 4 } });
  });

  it('streams tool_use blocks with input_json_delta fragments', async () => {
    const res = await post('/v1/messages', {
      model: 'claude-tool',
      max_tokens: 20,
      stream: true,
      tools: [{ name: 'get_weather', input_schema: { type: 'object' } }],
      messages: [{ role: 'user', content: 'w' }],
    });
    const all = await events(res);
    const start = all.find((e) => e.event === 'content_block_start')?.data;
    expect(start).toMatchObject({ index: 0, content_block: { type: 'tool_use', name: 'get_weather', input: {} } });
    const json = all
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => (e.data.delta as { type: string; partial_json: string }).partial_json)
      .join('');
    expect(JSON.parse(json)).toEqual({ city: 'Paris' });
    expect(all.find((e) => e.event === 'message_delta')?.data).toMatchObject({ delta: { stop_reason: 'tool_use' } });
  });

  it('honours output_format (beta, as DeepFabric sends it) and output_config.format (GA)', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer' } }, required: ['ok', 'n'], additionalProperties: false };
    const beta = await post('/v1/messages?beta=true', { model: 'claude-json', max_tokens: 100, output_format: { type: 'json_schema', schema }, messages: [{ role: 'user', content: 'json please' }] }, { 'anthropic-beta': 'structured-outputs-2025-11-13' });
    const body = (await beta.json()) as { content: Array<{ text: string }> };
    expect(JSON.parse(body.content[0]?.text ?? '')).toEqual({ ok: true, n: 1 });

    await post('/v1/messages', { model: 'claude-chat', max_tokens: 100, output_config: { format: { type: 'json_schema', schema } }, messages: [{ role: 'user', content: 'x' }] });
    expect(upstream.requests.at(-1)?.body?.response_format).toEqual({ type: 'json_schema', json_schema: { name: 'output', schema, strict: true } });
  });

  it('fails with a clear 422 (and x-should-retry: false) when an emulating target never produces valid JSON', async () => {
    const schema = { type: 'object', properties: { topics: { type: 'array' } }, required: ['topics'] };
    const before = upstream.requests.length;
    const res = await post('/v1/messages', { model: 'claude-echo-emu', max_tokens: 10, output_format: { type: 'json_schema', schema }, messages: [{ role: 'user', content: 'not json' }] });
    expect(res.status).toBe(422);
    expect(res.headers.get('x-should-retry')).toBe('false');
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.message).toContain('did not produce JSON matching the schema');
    expect(upstream.requests.length - before).toBe(3);
  });
});

describe('count_tokens and errors', () => {
  it('/v1/messages/count_tokens answers an estimate without calling a target', async () => {
    const before = upstream.requests.length;
    const res = await post('/v1/messages/count_tokens', { model: 'claude-3-haiku-20240307', messages: [{ role: 'user', content: 'test' }] });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ input_tokens: expect.any(Number) });
    expect(upstream.requests.length).toBe(before);
  });

  it("answers errors in Anthropic's shape; a rate limit becomes 503 + Retry-After", async () => {
    const bad = await post('/v1/messages', { model: 'claude-chat', messages: [{ role: 'user', content: 'x' }] });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ type: 'error', error: { type: 'invalid_request_error', message: expect.stringContaining('max_tokens') } });

    const limited = await post('/v1/messages', { model: 'claude-limited', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    expect(limited.status).toBe(503);
    expect(limited.headers.get('retry-after')).toBeTruthy();
    expect(((await limited.json()) as { error: { type: string } }).error.type).toBe('overloaded_error');
  });
});
