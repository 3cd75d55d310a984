import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// The real openai SDK as the client, Heddle on loopback, a real HTTP server playing an OpenAI-compatible target.

let upstream: FakeOpenAi;
let backup: FakeOpenAi;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await startFakeOpenAi();
  backup = await startFakeOpenAi();
  gateway = await startTestGateway(`
version: 1
targets:
  up: { kind: openai-compatible, url: ${upstream.baseURL}, api_key: upstream-secret, clearance: restricted }
  down: { kind: openai-compatible, url: "http://127.0.0.1:9/v1", clearance: restricted }
  backup: { kind: openai-compatible, url: ${backup.baseURL}, clearance: restricted }
models:
  chat: { up: echo }
  tooly: { up: tool }
  jsony: { up: json }
  broken: { up: stream-break }
  failover: { down: echo, backup: echo }
  relay: { up: error-400 }
  stall: { up: stall }
routes:
  - { name: main, match: { model: chat }, targets: [up] }
  - { name: failover, match: { model: failover }, targets: [down, backup] }
  - { name: rest, match: { model: "*" }, targets: [up] }
resilience:
  timeouts: { first_byte: 5s, idle: 1s }
`);
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'dummy-key', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await backup?.close();
});

describe('chat completions through Heddle with the openai SDK', () => {
  it('answers a non-streaming request with the target model id and the route/target headers', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content: 'hello there' }], temperature: 0, seed: 7 })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('echo: hello there');
    expect(data.choices[0]?.finish_reason).toBe('stop');
    expect(data.usage?.prompt_tokens).toBe(2);
    expect(response.headers.get('x-heddle-route')).toBe('main');
    expect(response.headers.get('x-heddle-target')).toBe('up');
    expect(response.headers.get('x-heddle-class')).toBe('internal');
    const sent = upstream.requests.at(-1);
    expect(sent?.body?.model).toBe('echo');
    expect(sent?.body?.seed).toBe(7);
    // The target's own key is sent upstream, never the client's.
    expect(sent?.headers.authorization).toBe('Bearer upstream-secret');
  });

  it('passes unknown fields, n, stop, top_p and max_completion_tokens through to OpenAI-wire targets', async () => {
    await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'x' }],
      n: 1,
      stop: ['\n\n'],
      top_p: 0.5,
      max_completion_tokens: 12,
      // @ts-expect-error a provider-specific field the SDK does not know
      repetition_penalty: 1.1,
    });
    const body = upstream.requests.at(-1)?.body;
    expect(body).toMatchObject({ n: 1, stop: ['\n\n'], top_p: 0.5, max_completion_tokens: 12, repetition_penalty: 1.1 });
  });

  it('streams chunk by chunk with [DONE], and includes usage only when asked', async () => {
    const stream = await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
    });
    const parts: string[] = [];
    let usageSeen = false;
    for await (const chunk of stream) {
      parts.push(chunk.choices[0]?.delta.content ?? '');
      if (chunk.usage) usageSeen = true;
    }
    expect(parts.join('')).toBe('echo: one two three');
    expect(usageSeen).toBe(false);

    const withUsage = await client.chat.completions.create({
      model: 'chat',
      messages: [{ role: 'user', content: 'one two three' }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of withUsage) if (chunk.usage) usage = chunk.usage;
    expect(usage).toMatchObject({ prompt_tokens: 3, completion_tokens: 4, total_tokens: 7 });
  });

  it('returns tool calls, streamed and not, with arguments as a JSON string', async () => {
    const tools: OpenAI.ChatCompletionTool[] = [
      { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } },
    ];
    const plain = await client.chat.completions.create({
      model: 'tooly',
      messages: [{ role: 'user', content: 'weather in Paris?' }],
      tools,
      tool_choice: 'auto',
    });
    const call = plain.choices[0]?.message.tool_calls?.[0];
    expect(plain.choices[0]?.finish_reason).toBe('tool_calls');
    expect(call?.type === 'function' && call.function.name).toBe('get_weather');
    expect(call?.type === 'function' && JSON.parse(call.function.arguments)).toEqual({ city: 'Paris' });
    expect(upstream.requests.at(-1)?.body?.tool_choice).toBe('auto');

    const runner = client.chat.completions.stream({ model: 'tooly', messages: [{ role: 'user', content: 'weather?' }], tools });
    const final = await runner.finalChatCompletion();
    const streamedCall = final.choices[0]?.message.tool_calls?.[0];
    expect(streamedCall?.type === 'function' && JSON.parse(streamedCall.function.arguments)).toEqual({ city: 'Paris' });
  });

  it('forwards response_format json_schema and returns the JSON text', async () => {
    const out = await client.chat.completions.create({
      model: 'jsony',
      messages: [{ role: 'user', content: 'give json' }],
      response_format: {
        type: 'json_schema',
        json_schema: { name: 'thing', strict: true, schema: { type: 'object', properties: { ok: { type: 'boolean' } }, required: ['ok'] } },
      },
    });
    expect(JSON.parse(out.choices[0]?.message.content ?? '')).toEqual({ ok: true, n: 1 });
    expect(upstream.requests.at(-1)?.body?.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'thing' } });
  });

  it('fails over invisibly when the first target is unreachable, and says which target served', async () => {
    const { data, response } = await client.chat.completions
      .create({ model: 'failover', messages: [{ role: 'user', content: 'still there?' }] })
      .withResponse();
    expect(data.choices[0]?.message.content).toBe('echo: still there?');
    expect(response.headers.get('x-heddle-target')).toBe('backup');

    const stream = await client.chat.completions.create({ model: 'failover', messages: [{ role: 'user', content: 'a b' }], stream: true });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text).toBe('echo: a b');
  });

  it('relays an upstream client error with its status and the target named', async () => {
    const err = await client.chat.completions.create({ model: 'relay', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    const apiErr = err as InstanceType<typeof OpenAI.BadRequestError>;
    expect(apiErr.status).toBe(400);
    expect(apiErr.message).toContain("Target 'up' answered 400");
    expect(apiErr.headers?.get('x-heddle-target')).toBe('up');
  });

  it('ends a stream that breaks after commit with an error event, not a clean end', async () => {
    const stream = await client.chat.completions.create({ model: 'broken', messages: [{ role: 'user', content: 'a b c d' }], stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(seen.join('')).not.toBe('');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toContain('stream');
  });

  it('ends a stream that stalls after commit with an idle-timeout error event', async () => {
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'stall', messages: [{ role: 'user', content: 'x' }], stream: true }),
    });
    const text = await res.text();
    expect(text).toContain('event: error');
    expect(text).toContain('timeout_idle');
    expect(text).not.toContain('[DONE]');
  });

  it('aborts the upstream request when the client disconnects mid-stream', async () => {
    const controller = new AbortController();
    const before = upstream.requests.length;
    const stream = await client.chat.completions.create(
      { model: 'stall', messages: [{ role: 'user', content: 'x' }], stream: true },
      { signal: controller.signal },
    );
    const iterator = stream[Symbol.asyncIterator]();
    await iterator.next();
    const abortedBefore = upstream.abortedByClient;
    controller.abort();
    await iterator.next().catch(() => undefined);
    expect(upstream.requests.length).toBe(before + 1);
    await expect.poll(() => upstream.abortedByClient, { timeout: 5000 }).toBe(abortedBefore + 1);
    // The gateway is still healthy and serving.
    const again = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'ok' }] });
    expect(again.choices[0]?.message.content).toBe('echo: ok');
  });
});

describe('embeddings and models', () => {
  it('embeds a string and an array', async () => {
    const one = await client.embeddings.create({ model: 'chat', input: 'hello world' });
    expect(one.data).toHaveLength(1);
    expect(one.data[0]?.embedding).toEqual([11, 2, 1]);
    const many = await client.embeddings.create({ model: 'chat', input: ['a', 'b c'], encoding_format: 'float' });
    expect(many.data.map((d) => d.embedding)).toEqual([
      [1, 1, 1],
      [3, 2, 1],
    ]);
  });

  it('lists the aliases the policy exposes', async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining(['chat', 'tooly', 'failover']));
    expect(ids).not.toContain('*');
  });

  it('reports health and readiness', async () => {
    expect((await fetch(`${gateway.url}/health`)).status).toBe(200);
    const ready = await fetch(`${gateway.url}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ status: 'ready' });
  });
});
