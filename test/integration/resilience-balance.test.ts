import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { startTestGateway, type TestGateway } from '../support/gateway.js';

// The least-loaded strategy reads the live outstanding-request counts the attempt loop keeps: a burst of slow
// requests spreads over both targets, where fallback would pile all of them on the first.

let slow: FakeOpenAi;
let gateway: TestGateway;

beforeAll(async () => {
  slow = await startFakeOpenAi({ slowMs: 1000 });
  gateway = await startTestGateway(`
version: 1
targets:
  p: { kind: openai-compatible, url: ${slow.baseURL}, clearance: restricted }
  q: { kind: openai-compatible, url: ${slow.baseURL}, clearance: restricted }
models:
  spread: { p: slow, q: slow }
  pile: { p: slow, q: slow }
routes:
  - { name: spread, match: { model: spread }, strategy: least-loaded, targets: [p, q] }
  - { name: pile, match: { model: pile }, strategy: fallback, targets: [p, q] }
`);
});

afterAll(async () => {
  await gateway?.close();
  await slow?.close();
});

/** `n` requests started 100 ms apart, each held 1 s upstream, so each one starts while the earlier are in flight. */
async function burst(model: string, n: number): Promise<Record<string, number>> {
  const targets = await Promise.all(
    Array.from({ length: n }, async (_, i) => {
      await new Promise((r) => setTimeout(r, i * 100));
      const res = await fetch(`${gateway.baseURL}/chat/completions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ model, messages: [{ role: 'user', content: 'x' }] }),
      });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      return res.headers.get('x-heddle-target') ?? '';
    }),
  );
  const counts: Record<string, number> = {};
  for (const t of targets) counts[t] = (counts[t] ?? 0) + 1;
  return counts;
}

describe('load balancing from live stats', () => {
  it('least-loaded spreads concurrent requests by outstanding count; fallback does not', async () => {
    const spread = await burst('spread', 8);
    expect(spread.p).toBeGreaterThanOrEqual(3);
    expect(spread.q).toBeGreaterThanOrEqual(3);
    const pile = await burst('pile', 6);
    expect(pile).toEqual({ p: 6 });
  });
});
