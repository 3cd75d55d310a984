import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashKey } from '../../src/auth/index.js';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// The response cache through the real Node gateway, with the openai SDK as the client and a loopback upstream
// that counts the calls it gets.

let upstream: FakeOpenAi;
let gateway: TestGateway;
let client: OpenAI;
let failing: { url: string; calls: number; close(): Promise<void> };

const KEY_A = 'sk-tenant-a';
const KEY_B = 'sk-tenant-b';

const policy = async (upstreamUrl: string, failingUrl: string) => `
version: 1
targets:
  up: { kind: openai-compatible, url: ${upstreamUrl}, clearance: restricted }
  failing: { kind: openai-compatible, url: ${failingUrl}, clearance: restricted }
models:
  chat: { up: echo }
  slow: { up: slow }
  tooly: { up: tool }
  broken: { up: stream-break }
  cut: { up: cut }
  sampler: { up: echo }
  nocache: { up: echo }
  flaky: { failing: flaky }
  emb: { up: echo }
routes:
  - { name: main, match: { model: [chat, slow, tooly, broken, cut, emb] }, targets: [up] }
  - { name: samples, match: { model: sampler }, targets: [up] }
  - { name: live, match: { model: nocache }, targets: [up] }
  - { name: flaky, match: { model: flaky }, targets: [failing] }
tenants:
  a: { keys: ["${await hashKey(KEY_A)}"] }
  b: { keys: ["${await hashKey(KEY_B)}"] }
auth: { anonymous: any }
resilience:
  timeouts: { first_byte: 5s, idle: 2s }
cache:
  mode: deterministic
  ttl: 1h
  routes:
    samples: { mode: always }
    live: { mode: off }
`;

/** An OpenAI-wire upstream that answers every chat call with a 500 after 200 ms, counting calls. */
async function startFailing(): Promise<{ url: string; calls: number; close(): Promise<void> }> {
  const state = { calls: 0 };
  const server = createServer((req, res) => {
    state.calls++;
    req.resume();
    setTimeout(() => {
      res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: 'boom', type: 'server_error', param: null, code: null } }));
    }, 200);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    get calls() {
      return state.calls;
    },
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}

beforeAll(async () => {
  upstream = await startFakeOpenAi({ slowMs: 300 });
  failing = await startFailing();
  gateway = await startTestGateway(await policy(upstream.baseURL, failing.url));
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'dummy-key', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  await failing?.close();
});

const chatCalls = () => upstream.requests.filter((r) => r.path === '/v1/chat/completions').length;
let unique = 0;
/** A prompt no other test sends, so tests do not share entries. */
const prompt = (words = 'the quick brown fox') => `${words} #${++unique}`;

async function ask(content: string, over: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const { data, response } = await client.chat.completions
    .create({ model: 'chat', messages: [{ role: 'user', content }], temperature: 0, ...over, stream: false }, { headers })
    .withResponse();
  return { data, cache: response.headers.get('x-heddle-cache'), target: response.headers.get('x-heddle-target') };
}

/** Raw SSE through fetch: the exact bytes, and the status header. */
async function rawStream(body: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ ...body, stream: true }),
  });
  return { text: await res.text(), cache: res.headers.get('x-heddle-cache'), status: res.status };
}

describe('answers from the cache', () => {
  it('serves a repeated temperature-0 request from the cache with one upstream call', async () => {
    const content = prompt();
    const before = chatCalls();
    const first = await ask(content);
    const second = await ask(content);
    expect([first.cache, second.cache]).toEqual(['miss', 'hit']);
    expect(second.data).toEqual(first.data);
    expect(second.target).toBe('up');
    expect(chatCalls() - before).toBe(1);
  });

  it('never answers sampled generation from the cache, unless the route says always', async () => {
    const content = prompt();
    const before = chatCalls();
    const a = await ask(content, { temperature: 0.8 });
    const b = await ask(content, { temperature: 0.8 });
    expect([a.cache, b.cache]).toEqual(['bypass', 'bypass']);
    expect(chatCalls() - before).toBe(2);
    const c = await ask(content, { model: 'sampler', temperature: 0.8 });
    const d = await ask(content, { model: 'sampler', temperature: 0.8 });
    expect([c.cache, d.cache]).toEqual(['miss', 'hit']);
    const e = await ask(content, { model: 'nocache' });
    const f = await ask(content, { model: 'nocache' });
    expect([e.cache, f.cache]).toEqual(['bypass', 'bypass']);
  });

  it('obeys x-heddle-cache: bypass, refresh and only', async () => {
    const content = prompt();
    const before = chatCalls();
    await expect(ask(content, {}, { 'x-heddle-cache': 'only' })).rejects.toMatchObject({ status: 404, code: 'cache_miss' });
    expect((await ask(content, {}, { 'x-heddle-cache': 'bypass' })).cache).toBe('bypass');
    expect((await ask(content, {}, { 'x-heddle-cache': 'only' }).catch((e: unknown) => e))).toMatchObject({ status: 404 });
    expect((await ask(content)).cache).toBe('miss');
    expect((await ask(content, {}, { 'x-heddle-cache': 'only' })).cache).toBe('hit');
    expect((await ask(content, {}, { 'x-heddle-cache': 'refresh' })).cache).toBe('refresh');
    expect((await ask(content)).cache).toBe('hit');
    expect(chatCalls() - before).toBe(3);
    await expect(ask(content, {}, { 'x-heddle-cache': 'sometimes' })).rejects.toMatchObject({ status: 400 });
    await expect(ask(content, { temperature: 1 }, { 'x-heddle-cache': 'only' })).rejects.toMatchObject({ status: 404, code: 'cache_miss' });
  });

  it('keeps classes apart (x-heddle-privacy) and tenants apart (API keys)', async () => {
    const content = prompt();
    expect((await ask(content)).cache).toBe('miss');
    expect((await ask(content, {}, { 'x-heddle-privacy': 'confidential' })).cache).toBe('miss');
    expect((await ask(content, {}, { 'x-heddle-privacy': 'confidential' })).cache).toBe('hit');
    expect((await ask(content, {}, { 'x-heddle-privacy': 'restricted' })).cache).toBe('miss');
    expect((await ask(content)).cache).toBe('hit');
    const tenant = (key: string) => new OpenAI({ baseURL: gateway.baseURL, apiKey: key, maxRetries: 0 });
    const asTenant = async (key: string) => {
      const { response } = await tenant(key).chat.completions.create({ model: 'chat', messages: [{ role: 'user', content }], temperature: 0 }).withResponse();
      return response.headers.get('x-heddle-cache');
    };
    expect(await asTenant(KEY_A)).toBe('miss');
    expect(await asTenant(KEY_B)).toBe('miss');
    expect(await asTenant(KEY_A)).toBe('hit');
    expect(await asTenant(KEY_B)).toBe('hit');
  });

  it('caches embeddings', async () => {
    const input = prompt();
    const first = await client.embeddings.create({ model: 'emb', input }).withResponse();
    const second = await client.embeddings.create({ model: 'emb', input }).withResponse();
    expect([first.response.headers.get('x-heddle-cache'), second.response.headers.get('x-heddle-cache')]).toEqual(['miss', 'hit']);
    expect(second.data.data).toEqual(first.data.data);
  });
});

describe('one entry for streaming and non-streaming requests', () => {
  it('replays a streamed miss as the same SSE the upstream stream gave, through the SDK', async () => {
    const content = prompt('one two three four');
    const body = { model: 'chat', messages: [{ role: 'user', content }], temperature: 0 };
    const miss = await rawStream(body);
    const hit = await rawStream(body);
    expect([miss.cache, hit.cache]).toEqual(['miss', 'hit']);
    expect(hit.text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(hit.text).not.toContain('"usage"');
    for (const block of hit.text.split('\n\n').filter(Boolean)) expect(block).toMatch(/^data: /);
    const sdkText = async () => {
      const runner = client.chat.completions.stream({ ...body, messages: [{ role: 'user' as const, content }] });
      return runner.finalChatCompletion();
    };
    const final = await sdkText();
    expect(final.choices[0]?.message.content).toBe(`echo: ${content}`);
    expect(final.choices[0]?.finish_reason).toBe('stop');
  });

  it('serves a non-streamed answer to a streaming request (usage only when asked) and back', async () => {
    const content = prompt();
    const json = await ask(content);
    expect(json.cache).toBe('miss');
    const stream = await client.chat.completions
      .create({ model: 'chat', messages: [{ role: 'user', content }], temperature: 0, stream: true, stream_options: { include_usage: true } })
      .withResponse();
    expect(stream.response.headers.get('x-heddle-cache')).toBe('hit');
    let text = '';
    let usage: unknown;
    let finish: string | null | undefined;
    let role: string | undefined;
    for await (const chunk of stream.data) {
      if (chunk.usage) usage = chunk.usage;
      role ??= chunk.choices[0]?.delta.role;
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect({ role, text, finish }).toEqual({ role: 'assistant', text: json.data.choices[0]?.message.content, finish: 'stop' });
    expect(usage).toEqual(json.data.usage);

    const other = prompt();
    const streamed = await rawStream({ model: 'chat', messages: [{ role: 'user', content: other }], temperature: 0, stream_options: { include_usage: true } });
    expect(streamed.cache).toBe('miss');
    const back = await ask(other);
    expect(back.cache).toBe('hit');
    expect(back.data.choices[0]).toMatchObject({ message: { role: 'assistant', content: `echo: ${other}` }, finish_reason: 'stop' });
    expect(back.data.usage?.total_tokens).toBeGreaterThan(0);
  });

  it('replays tool calls so the SDK rebuilds the same message', async () => {
    const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
    const content = prompt('weather');
    const run = () => client.chat.completions.stream({ model: 'tooly', messages: [{ role: 'user', content }], tools, temperature: 0 }).finalChatCompletion();
    const before = chatCalls();
    const first = await run();
    const second = await run();
    expect(chatCalls() - before).toBe(1);
    expect(second.choices[0]?.message.tool_calls).toEqual(first.choices[0]?.message.tool_calls);
    expect(second.choices[0]?.message.tool_calls?.[0]).toMatchObject({ id: 'call_fake_1', function: { name: 'get_weather', arguments: '{"city":"Paris"}' } });
    expect(second.choices[0]?.finish_reason).toBe('tool_calls');
    const json = await ask(content, { model: 'tooly', tools });
    expect(json.cache).toBe('hit');
    expect(json.data.choices[0]?.message).toMatchObject({ content: null, tool_calls: [{ function: { arguments: '{"city":"Paris"}' } }] });
  });

  it('does not store a broken or cut stream', async () => {
    for (const model of ['broken', 'cut']) {
      const content = prompt();
      const before = chatCalls();
      const first = await rawStream({ model, messages: [{ role: 'user', content }], temperature: 0 });
      expect(first.cache).toBe('miss');
      const second = await rawStream({ model, messages: [{ role: 'user', content }], temperature: 0 });
      expect(second.cache).toBe('miss');
      expect(chatCalls() - before).toBe(2);
      if (model === 'broken') expect(second.text).toContain('event: error');
    }
  });
});

describe('coalescing', () => {
  it('sends 50 identical concurrent requests to the target once', async () => {
    const content = prompt();
    const before = chatCalls();
    const answers = await Promise.all(
      Array.from({ length: 50 }, () => ask(content, { model: 'slow' })),
    );
    expect(chatCalls() - before).toBe(1);
    const statuses = answers.map((a) => a.cache).sort();
    expect(statuses.filter((s) => s === 'miss')).toHaveLength(1);
    expect(statuses.filter((s) => s === 'coalesced')).toHaveLength(49);
    for (const a of answers) expect(a.data.choices[0]?.message.content).toBe(`echo: ${content}`);
    expect((await ask(content, { model: 'slow' })).cache).toBe('hit');
  });

  it('gives streaming and non-streaming followers the same answer', async () => {
    const content = prompt('alpha beta gamma');
    const before = chatCalls();
    const body = { model: 'slow', messages: [{ role: 'user', content }], temperature: 0 };
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? rawStream(body) : ask(content, { model: 'slow' }))),
    );
    expect(chatCalls() - before).toBe(1);
    for (const r of results) {
      if ('text' in r) {
        expect(r.text.endsWith('data: [DONE]\n\n')).toBe(true);
        const text = r.text.split('\n\n').filter((b) => b.startsWith('data: {')).map((b) => JSON.parse(b.slice(6)) as { choices: Array<{ delta: { content?: string } }> })
          .map((c) => c.choices[0]?.delta.content ?? '').join('');
        expect(text).toBe(`echo: ${content}`);
      } else {
        expect(r.data.choices[0]?.message.content).toBe(`echo: ${content}`);
      }
    }
  });

  it('keeps serving followers when the leader leaves, and stops the call when everyone leaves', async () => {
    const content = prompt();
    const before = chatCalls();
    const leader = new AbortController();
    const leaderCall = client.chat.completions
      .create({ model: 'slow', messages: [{ role: 'user', content }], temperature: 0 }, { signal: leader.signal })
      .catch((e: unknown) => e);
    // The leader's call is at the target (which holds it 300 ms) before the followers arrive.
    await expect.poll(() => chatCalls() - before, { interval: 5 }).toBe(1);
    const followers = Promise.all(Array.from({ length: 5 }, () => ask(content, { model: 'slow' })));
    await new Promise((r) => setTimeout(r, 50));
    // Once the followers have joined (the target still holds the call), the leader's client goes away.
    await new Promise((r) => setTimeout(r, 100));
    leader.abort();
    const answers = await followers;
    expect(answers.map((a) => a.cache)).toEqual(Array(5).fill('coalesced'));
    expect(chatCalls() - before).toBe(1);
    await leaderCall;

    const aborted = upstream.abortedByClient;
    const all = new AbortController();
    const lone = prompt();
    const calls = Array.from({ length: 3 }, () =>
      client.chat.completions.create({ model: 'slow', messages: [{ role: 'user', content: lone }], temperature: 0 }, { signal: all.signal }).catch((e: unknown) => e),
    );
    await new Promise((r) => setTimeout(r, 100));
    all.abort();
    await Promise.all(calls);
    await expect.poll(() => upstream.abortedByClient).toBe(aborted + 1);
    // Nothing was stored: the next request is a fresh miss.
    expect((await ask(lone, { model: 'slow' })).cache).toBe('miss');
  });

  it('hands the leader\'s error to its followers and stores nothing', async () => {
    // One request's worth of upstream calls (the attempt loop may retry a 500).
    let before = failing.calls;
    await ask(prompt(), { model: 'flaky' }).catch(() => undefined);
    const perRequest = failing.calls - before;
    expect(perRequest).toBeGreaterThanOrEqual(1);

    before = failing.calls;
    const content = prompt();
    const results = await Promise.all(
      Array.from({ length: 10 }, () => ask(content, { model: 'flaky' }).catch((e: unknown) => e)),
    );
    // (Fewer when the retry budget runs low.)
    const shared = failing.calls - before;
    expect(shared).toBeGreaterThanOrEqual(1);
    expect(shared).toBeLessThanOrEqual(perRequest);
    for (const r of results) expect((r as { status: number }).status).toBeGreaterThanOrEqual(500);
    // Not answered from the cache: the next identical request fails again (at the target or its open breaker).
    await expect(ask(content, { model: 'flaky' })).rejects.toMatchObject({ status: expect.any(Number) });
  });
});

describe('observability and restarts', () => {
  it('counts cache statuses and bytes in /metrics', async () => {
    const text = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(text).toMatch(/heddle_cache_requests_total\{endpoint="chat",status="hit"\} \d+/);
    expect(text).toMatch(/heddle_cache_requests_total\{endpoint="chat",status="coalesced"\} \d+/);
    expect(text).toMatch(/heddle_cache_bytes\{store="memory"\} [1-9]\d*/);
  });

  it('finds entries on disk after a restart, and ignores a truncated one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'heddle-disk-'));
    const yaml = await policy(upstream.baseURL, failing.url);
    const env = { HEDDLE_CACHE_DIR: dir };
    const content = prompt();
    const damaged = prompt();
    const run = async (gw: TestGateway, text: string) => {
      const res = await fetch(`${gw.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'chat', messages: [{ role: 'user', content: text }], temperature: 0 }),
      });
      return { status: res.status, cache: res.headers.get('x-heddle-cache') };
    };
    const entries = () => readdirSync(dir).filter((f) => f.endsWith('.json'));
    const first = await startTestGateway(yaml, env);
    expect((await run(first, content)).cache).toBe('miss');
    await expect.poll(entries).toHaveLength(1);
    const [contentFile] = entries();
    expect((await run(first, damaged)).cache).toBe('miss');
    await expect.poll(entries).toHaveLength(2);
    await first.close();

    const damagedFile = entries().find((f) => f !== contentFile) as string;
    const text = readFileSync(join(dir, damagedFile), 'utf8');
    writeFileSync(join(dir, damagedFile), text.slice(0, 40));

    const second = await startTestGateway(yaml, env);
    try {
      expect(await run(second, content)).toEqual({ status: 200, cache: 'hit' });
      expect(await run(second, damaged)).toEqual({ status: 200, cache: 'miss' });
      expect(readFileSync(join(dir, 'secret'), 'utf8')).toMatch(/^[0-9a-f]{64}$/);
    } finally {
      await second.close();
    }
  });
});
