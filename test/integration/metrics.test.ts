import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGatewayOverFakeOpenAi, type TestGateway } from '../support/gateway.js';

let gateway: TestGateway;
let stop: (() => Promise<void>) | undefined;
let client: OpenAI;

beforeAll(async () => {
  ({ gateway, close: stop } = await startGatewayOverFakeOpenAi(
    (up) => `
version: 1
targets:
  up: { kind: openai-compatible, url: ${up.baseURL}, clearance: restricted }
models:
  chat: { up: echo }
  bad: { up: error-500 }
routes:
  - { name: main, match: { model: "*" }, targets: [up] }
`,
  ));
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'k', maxRetries: 0 });
});

afterAll(() => stop?.());

function sample(text: string, name: string, labels: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name}{${labels}}`));
  return line === undefined ? undefined : Number(line.split(' ').at(-1));
}

describe('GET /metrics', () => {
  it('counts requests by route, target and status, with latency histograms and tokens', async () => {
    await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'one two three' }] });
    const stream = await client.chat.completions.create({ model: 'chat', messages: [{ role: 'user', content: 'four five' }], stream: true });
    for await (const _ of stream) void _;
    await client.chat.completions.create({ model: 'bad', messages: [{ role: 'user', content: 'x' }] }).catch(() => undefined);

    const res = await fetch(`${gateway.url}/metrics`);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    expect(sample(text, 'heddle_requests_total', 'endpoint="chat",route="main",target="up",status="200"')).toBe(2);
    expect(sample(text, 'heddle_requests_total', 'endpoint="chat",route="main",target="up",status="503"')).toBe(1);
    expect(sample(text, 'heddle_request_duration_seconds_count', 'endpoint="chat",route="main",target="up"')).toBe(3);
    expect(sample(text, 'heddle_time_to_first_byte_seconds_count', 'endpoint="chat",route="main",target="up"')).toBe(2);
    // Three prompt words, then two (the stream's usage is requested upstream even though the client did not ask).
    expect(sample(text, 'heddle_prompt_tokens_total', 'route="main",target="up"')).toBe(5);
    expect(sample(text, 'heddle_completion_tokens_total', 'route="main",target="up"')).toBeGreaterThan(0);
    expect(text).toContain('# TYPE heddle_request_duration_seconds histogram');
  });
});
