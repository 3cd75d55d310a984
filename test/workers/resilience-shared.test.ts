import { env, exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { HeddleError } from '../../src/errors.js';
import { fetchHttpSend } from '../../src/providers/http.js';
import type { Target } from '../../src/providers/types.js';
import { compileResilience, resilienceSchema } from '../../src/resilience/config.js';
import { Resilience } from '../../src/resilience/index.js';
import { SharedBreakers } from '../../src/resilience/shared.js';

// Breaker openings shared between isolates through the real HeddleBreakers Durable Object under workerd. Two
// Resilience instances stand for two isolates; they share nothing but the Durable Object.

const cfg = compileResilience(resilienceSchema.parse({ breaker: { failures: 2, cooldown: '30s' } }));
const node: Target = { name: 'node', kind: 'fastllm', url: 'https://node.example', apiKey: undefined, headers: {} };
const refused = () =>
  new HeddleError({ status: 502, type: 'upstream_error', code: 'upstream_unreachable', message: 'down', target: 'node', retryable: true });

function isolate(board: string): { r: Resilience; shared: SharedBreakers } {
  const r = new Resilience({ http: fetchHttpSend(fetch), now: () => performance.now() });
  const shared = new SharedBreakers(env.HEDDLE_BREAKERS.get(env.HEDDLE_BREAKERS.idFromName(board)));
  r.share(shared);
  return { r, shared };
}

describe('breakers shared through a Durable Object', () => {
  it("opens a breaker in every isolate when one isolate's breaker opens, for the rest of its cooldown", async () => {
    const board = `board-${crypto.randomUUID()}`;
    const one = isolate(board);
    const two = isolate(board);
    for (let i = 0; i < 2; i++) {
      const a = one.r.admit(node, cfg);
      expect(a.ok).toBe(true);
      if (a.ok) one.r.failed(a.ticket, refused(), cfg);
    }
    expect(one.r.refusal(node, cfg)?.reason).toBe('circuit open');
    expect(one.shared.pending).toBe(1);
    await one.shared.sync(Date.now(), (o) => one.r.applyShared(o, cfg), true);

    expect(two.r.refusal(node, cfg)).toBeUndefined();
    await two.shared.sync(Date.now(), (o) => two.r.applyShared(o, cfg), true);
    expect(two.r.refusal(node, cfg)?.reason).toBe('circuit open');
    const view = two.r.describe('node', cfg).breaker;
    expect(view.retryInMs).toBeGreaterThan(20_000);
    expect(view.retryInMs).toBeLessThanOrEqual(30_000);
  });

  it('keeps boards apart by name, and the Worker serves with the binding present', async () => {
    const other = isolate(`board-${crypto.randomUUID()}`);
    await other.shared.sync(Date.now(), (o) => other.r.applyShared(o, cfg), true);
    expect(other.r.refusal(node, cfg)).toBeUndefined();
    const res = await exports.default.fetch('http://heddle.test/ready');
    expect(res.status).toBe(200);
  });
});
