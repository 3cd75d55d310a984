import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// Each misbehaving node, and what a client of Heddle sees. Every scenario has targets of its own (breakers are
// per target), all pointing at real HTTP servers on loopback that misbehave by model name.

let up: FakeOpenAi;
let spare: FakeOpenAi;
let gateway: TestGateway;
let client: OpenAI;

beforeAll(async () => {
  [up, spare] = await Promise.all([startFakeOpenAi(), startFakeOpenAi()]);
  const t = (url: string) => `{ kind: openai-compatible, url: ${url}, clearance: restricted }`;
  gateway = await startTestGateway(`
version: 1
targets:
  hang: ${t(up.baseURL)}
  stall: ${t(up.baseURL)}
  flaky: ${t(up.baseURL)}
  limited: ${t(up.baseURL)}
  limited-only: ${t(up.baseURL)}
  garbled: ${t(up.baseURL)}
  broken: ${t(up.baseURL)}
  spare: ${t(spare.baseURL)}
models:
  hangs: { hang: hang, spare: echo }
  stalls: { stall: stall, spare: echo }
  flaky: { flaky: flaky-2 }
  limited: { limited: error-429, spare: echo }
  limited-only: { limited-only: error-429 }
  garbled: { garbled: bad-sse, spare: echo }
  broken: { broken: error-500 }
routes:
  - { name: hangs, match: { model: hangs }, targets: [hang, spare] }
  - { name: stalls, match: { model: stalls }, targets: [stall, spare] }
  - { name: flaky, match: { model: flaky }, targets: [flaky] }
  - { name: limited, match: { model: limited }, targets: [limited, spare] }
  - { name: limited-only, match: { model: limited-only }, targets: [limited-only] }
  - { name: garbled, match: { model: garbled }, targets: [garbled, spare] }
  - { name: broken, match: { model: broken }, targets: [broken] }
resilience:
  retries: 2
  backoff: { base: 10ms, max: 50ms }
  retry_after_cap: 500ms
  timeouts: { first_byte: 5s, idle: 300ms }
  breaker: { failures: 3, cooldown: 30s }
  health: { interval: 30s, timeout: 1s }
  targets:
    hang: { timeouts: { first_byte: 300ms } }
  routes:
    broken: { retries: 0 }
`);
  client = new OpenAI({ baseURL: gateway.baseURL, apiKey: 'k', maxRetries: 0 });
});

afterAll(async () => {
  await gateway?.close();
  await up?.close();
  await spare?.close();
});

const ask = (model: string, content = 'are you there') => ({ model, messages: [{ role: 'user' as const, content }] });

async function streamText(model: string): Promise<{ status: number; text: string; target: string | null }> {
  const res = await fetch(`${gateway.baseURL}/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...ask(model), stream: true }),
  });
  return { status: res.status, text: await res.text(), target: res.headers.get('x-heddle-target') };
}

describe('a node that misbehaves', () => {
  it('hangs before the first byte: the first-byte timeout moves the request to the next target, streamed or not', async () => {
    const aborted = up.abortedByClient;
    const { data, response } = await client.chat.completions.create(ask('hangs')).withResponse();
    expect(data.choices[0]?.message.content).toBe('echo: are you there');
    expect(response.headers.get('x-heddle-target')).toBe('spare');
    const streamed = await streamText('hangs');
    expect(streamed.target).toBe('spare');
    expect(streamed.text).toContain('data: [DONE]');
    // The hung upstream calls were cancelled, not left running.
    await expect.poll(() => up.abortedByClient - aborted).toBe(2);
  });

  it('stalls mid-stream: after commit the stream ends with an idle-timeout error event and no [DONE]', async () => {
    const { status, text, target } = await streamText('stalls');
    expect(status).toBe(200);
    expect(target).toBe('stall');
    expect(text).toContain('"content":"echo: "');
    expect(text).toMatch(/event: error\ndata: .*timeout_idle/);
    expect(text).not.toContain('[DONE]');
  });

  it('answers 500 twice then recovers: the retries with backoff reach the recovered node', async () => {
    const before = up.requests.length;
    const out = await client.chat.completions.create(ask('flaky'));
    expect(out.choices[0]?.message.content).toBe('echo: are you there');
    expect(up.requests.length - before).toBe(3);
  });

  it('sends 429 with Retry-After: the request moves on, and the target rests for as long as it asked', async () => {
    const before = up.requests.length;
    const first = await client.chat.completions.create(ask('limited')).withResponse();
    expect(first.response.headers.get('x-heddle-target')).toBe('spare');
    const second = await client.chat.completions.create(ask('limited')).withResponse();
    expect(second.response.headers.get('x-heddle-target')).toBe('spare');
    // The second request did not knock on the resting target again.
    expect(up.requests.length - before).toBe(1);
  });

  it('sends 429 with a Retry-After over the cap, and no other target: 503 with Retry-After, never a 429', async () => {
    const res = await fetch(`${gateway.baseURL}/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(ask('limited-only')),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('1');
    const body = (await res.json()) as { error: { message: string; type: string } };
    expect(body.error.type).toBe('service_unavailable');
    expect(body.error.message).toContain("answered 429");
  });

  it('sends malformed SSE before any content: the stream fails over invisibly; a malformed JSON answer too', async () => {
    const streamed = await streamText('garbled');
    expect(streamed.status).toBe(200);
    expect(streamed.target).toBe('spare');
    expect(streamed.text).not.toContain('event: error');
    expect(streamed.text).toContain('data: [DONE]');
    const { response } = await client.chat.completions.create(ask('garbled')).withResponse();
    expect(response.headers.get('x-heddle-target')).toBe('spare');
  });

  it('keeps failing: its breaker opens, later requests get 503 with Retry-After and the reason, and /metrics shows it', async () => {
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${gateway.baseURL}/chat/completions`, post(ask('broken')))).status);
    expect(statuses).toEqual([503, 503, 503]);
    const before = up.requests.length;
    const res = await fetch(`${gateway.baseURL}/chat/completions`, post(ask('broken')));
    expect(res.status).toBe(503);
    expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(1);
    const body = (await res.json()) as { error: { message: string; code: string } };
    expect(body.error.code).toBe('no_target_available');
    expect(body.error.message).toContain("Target 'broken' not tried: circuit open");
    expect(up.requests.length).toBe(before);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toContain('heddle_circuit_breaker_state{target="broken"} 2');
    expect(metrics).toContain('heddle_circuit_breaker_state{target="spare"} 0');
    const ready = (await (await fetch(`${gateway.url}/ready`)).json()) as { unavailable: Record<string, string> };
    expect(ready.unavailable.broken).toBe('circuit open');
  });
});

function post(body: unknown): RequestInit {
  return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}
