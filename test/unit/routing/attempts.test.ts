import { describe, expect, it } from 'vitest';
import type { ChatRequest } from '../../../src/dialects/openai/schema.js';
import { HeddleError } from '../../../src/errors.js';
import { loadPolicy } from '../../../src/policy/index.js';
import type { HttpSend } from '../../../src/providers/http.js';
import { Resilience } from '../../../src/resilience/index.js';
import { attemptChat, type AttemptRecord } from '../../../src/routing/attempts.js';
import type { Candidate } from '../../../src/routing/route.js';

// The attempt loop tells a target's failure (a HeddleError: relayed, counted against it, failed over) from Heddle's
// own bug (anything else: thrown as it is for the edge to log, no verdict on the target, no other target tried).

const { policy } = loadPolicy(
  `version: 1
targets:
  a: { kind: openai-compatible, url: "http://127.0.0.1:9/v1", clearance: restricted }
  b: { kind: openai-compatible, url: "http://127.0.0.1:9/v1", clearance: restricted }
models:
  m: { a: m, b: m }
routes:
  - { name: r, match: { model: m }, targets: [a, b] }
resilience: { breaker: { failures: 1 }, health: { enabled: false } }
`,
  'test.yaml',
  {},
);
const candidates: Candidate[] = ['a', 'b'].map((name) => ({ target: policy.targets.get(name)!, model: 'm' }));

function setup(http: HttpSend) {
  const resilience = new Resilience({ http, now: () => performance.now() });
  const attempts: AttemptRecord[] = [];
  const opts = { http, resilience, config: policy.resilience, route: 'r', signal: new AbortController().signal, attempts };
  return { resilience, attempts, opts };
}

const request = (extra: Record<string, unknown> = {}) => ({ model: 'm', messages: [{ role: 'user', content: 'hi' }], ...extra }) as ChatRequest;

describe('attempt loop (src/routing/attempts.ts)', () => {
  it("a target's failure is counted against it and the next target is tried", async () => {
    const urls: string[] = [];
    const http: HttpSend = (req) => {
      urls.push(req.url);
      return Promise.reject(new Error('connection refused'));
    };
    const { resilience, attempts, opts } = setup(http);
    const err = await attemptChat(request(), candidates, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(HeddleError);
    expect((err as HeddleError).status).toBe(503);
    expect(attempts.map((a) => a.target)).toEqual(['a', 'b']);
    expect(resilience.breakerStates(['a', 'b'], policy.resilience).map((b) => b.state)).toEqual(['open', 'open']);
  });

  it("Heddle's own bug is thrown as it is: the target is not blamed and no other target is tried", async () => {
    let sent = 0;
    const http: HttpSend = () => {
      sent++;
      return Promise.reject(new Error('not reached'));
    };
    const { resilience, attempts, opts } = setup(http);
    // A field JSON cannot write stands in for a bug in an adapter: serializing the request throws a TypeError.
    const err = await attemptChat(request({ extra: 1n }), candidates, opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TypeError);
    expect(sent).toBe(0);
    expect(attempts).toEqual([]);
    expect(resilience.breakerStates(['a', 'b'], policy.resilience).map((b) => b.state)).toEqual(['closed', 'closed']);
  });
});
