import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// Under a total outage (every target answers 500), the retry budget bounds how many upstream calls the gateway
// makes: about (1 + ratio) per request, however many retries each request may make on its own.

const REQUESTS = 200;
const RATIO = 0.1;

let x: FakeOpenAi;
let y: FakeOpenAi;
let gateway: TestGateway;

beforeAll(async () => {
  [x, y] = await Promise.all([startFakeOpenAi(), startFakeOpenAi()]);
  gateway = await startTestGateway(`
version: 1
targets:
  x: { kind: openai-compatible, url: ${x.baseURL}, clearance: restricted }
  y: { kind: openai-compatible, url: ${y.baseURL}, clearance: restricted }
models:
  down: { x: error-500, y: error-500 }
routes:
  - { name: down, match: { model: down }, targets: [x, y] }
resilience:
  retries: 5
  backoff: { base: 1ms, max: 2ms }
  retry_budget: { ratio: ${RATIO}, min_per_second: 0, window: 60s }
  # Breakers would stop the calls themselves; keep them out of the way to count the budget alone.
  breaker: { failures: 100000, min_requests: 100000 }
`);
});

afterAll(async () => {
  await gateway?.close();
  await x?.close();
  await y?.close();
});

const chatCalls = (s: FakeOpenAi) => s.requests.filter((r) => r.path === '/v1/chat/completions').length;

describe('the retry budget', () => {
  it('caps upstream attempts under a total outage', async () => {
    const statuses = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next++ < REQUESTS) {
        const res = await fetch(`${gateway.baseURL}/chat/completions`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'down', messages: [{ role: 'user', content: 'x' }] }),
        });
        await res.arrayBuffer();
        statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const attempts = chatCalls(x) + chatCalls(y);
    console.log(`${REQUESTS} requests under a total outage -> ${attempts} upstream attempts (without a budget: up to ${REQUESTS * 6})`);
    expect(statuses.get(503)).toBe(REQUESTS);
    expect(attempts).toBeGreaterThanOrEqual(REQUESTS);
    expect(attempts).toBeLessThanOrEqual(Math.floor(REQUESTS * (1 + RATIO)));
  });
});
