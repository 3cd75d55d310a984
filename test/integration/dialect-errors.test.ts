import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeOpenAi } from '../support/fake-openai.js';
import { startGatewayOverFakeOpenAi, type TestGateway } from '../support/gateway.js';

// Errors raised before any handler runs (body limit, unknown path), and those the handlers throw, answer in the
// client's own dialect.

let upstream: FakeOpenAi;
let gateway: TestGateway;
let stop: (() => Promise<void>) | undefined;

beforeAll(async () => {
  ({ upstream, gateway, close: stop } = await startGatewayOverFakeOpenAi(
    (up) => `
version: 1
targets:
  up: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
models:
  chat: { up: echo }
routes:
  - { match: { model: "*" }, targets: [up] }
limits: { max_body_bytes: 1024 }
`,
  ));
});

afterAll(() => stop?.());

const big = 'x'.repeat(4096);
const post = (path: string, body: unknown) =>
  fetch(`${gateway.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-api-key': 'k', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify(body),
  });

describe('errors before the handlers, per dialect', () => {
  it('Anthropic Messages: an oversized body is a 413 in Anthropic error shape', async () => {
    const res = await post('/v1/messages', { model: 'chat', max_tokens: 10, messages: [{ role: 'user', content: big }] });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe('error');
    expect(body.error.message).toContain('1024 bytes');
  });

  it('Ollama: an oversized body is a 413 with {"error": ...}', async () => {
    const res = await post('/api/chat', { model: 'chat', messages: [{ role: 'user', content: big }] });
    expect(res.status).toBe(413);
    const body = (await res.json()) as { error: string };
    expect(typeof body.error).toBe('string');
    expect(body.error).toContain('1024 bytes');
  });

  it('Ollama: an unknown /api path is a 404 with {"error": ...}', async () => {
    const res = await post('/api/nope', {});
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: string }).error).toContain('Unknown path');
  });

  it('OpenAI: an oversized body is a 413 in OpenAI error shape', async () => {
    const res = await post('/v1/chat/completions', { model: 'chat', messages: [{ role: 'user', content: big }] });
    expect(res.status).toBe(413);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('request_too_large');
  });

  it('none of them reached the target', () => {
    expect(upstream.requests).toHaveLength(0);
  });
});

describe('errors the handlers throw, per dialect (app.onError)', () => {
  it('JSON nested past 128 levels is a 400 naming the field, in Anthropic and in Ollama shape', async () => {
    let deep: unknown = 0;
    for (let i = 0; i < 200; i++) deep = [deep];
    const anthropic = await post('/v1/messages', { model: 'chat', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }], metadata: { x: deep } });
    expect(anthropic.status).toBe(400);
    expect(await anthropic.json()).toEqual({
      type: 'error',
      error: { type: 'invalid_request_error', message: "'metadata.x[0]' nests deeper than 128 levels of JSON." },
    });
    const ollama = await post('/api/chat', { model: 'chat', messages: [{ role: 'user', content: 'hi' }], options: { stop: deep } });
    expect(ollama.status).toBe(400);
    expect(await ollama.json()).toEqual({ error: "'options.stop[0]' nests deeper than 128 levels of JSON." });
  });
});
