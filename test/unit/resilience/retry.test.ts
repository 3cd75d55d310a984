import { describe, expect, it } from 'vitest';
import { HeddleError } from '../../../src/errors.js';
import type { BudgetConfig, RetryConfig } from '../../../src/resilience/config.js';
import { backoffSeconds, countsAgainstTarget, RetryBudget, shouldRetry } from '../../../src/resilience/retry.js';

const upstream = (status: number, code: string, retryable = true) =>
  new HeddleError({ status, type: 'upstream_error', code, message: 'x', target: 't', retryable });

describe('shouldRetry', () => {
  it.each([
    ['connection refused', upstream(502, 'upstream_unreachable'), true],
    ['first-byte timeout', upstream(504, 'timeout_first_byte'), true],
    ['idle timeout', upstream(504, 'timeout_idle'), true],
    ['malformed answer', upstream(502, 'upstream_invalid_response'), true],
    ['408', upstream(408, 'upstream_error'), true],
    ['429', upstream(429, 'upstream_error'), true],
    ['500', upstream(500, 'upstream_error'), true],
    ['503', upstream(503, 'upstream_error'), true],
    ['400 relayed', upstream(400, 'upstream_error', false), false],
    ['404 relayed', upstream(404, 'upstream_error', false), false],
    ['409 relayed', upstream(409, 'upstream_error'), false],
    ['client went away', upstream(499, 'cancelled', false), false],
    ['gateway error without a target', new HeddleError({ status: 503, type: 'service_unavailable', message: 'x', code: 'upstream_unreachable' }), false],
  ])('%s -> %s', (_name, error, expected) => {
    expect(shouldRetry(error)).toBe(expected);
  });

  it('does not count a 429 against the target (it is alive and asking us to slow down)', () => {
    expect(countsAgainstTarget(upstream(429, 'upstream_error'))).toBe(false);
    expect(countsAgainstTarget(upstream(500, 'upstream_error'))).toBe(true);
  });
});

describe('backoffSeconds', () => {
  const cfg: RetryConfig = { retries: 3, backoffBase: 0.1, backoffMax: 1, retryAfterCap: 5 };
  it('grows exponentially to the cap, with full jitter', () => {
    expect([1, 2, 3, 4, 5].map((r) => backoffSeconds(r, cfg, () => 0.999999))).toEqual(
      [0.1, 0.2, 0.4, 0.8, 1].map((v) => expect.closeTo(v, 5)),
    );
    expect(backoffSeconds(3, cfg, () => 0)).toBe(0);
    expect(backoffSeconds(3, cfg, () => 0.5)).toBeCloseTo(0.2);
  });
});

describe('RetryBudget', () => {
  const cfg: BudgetConfig = { ratio: 0.2, minPerSecond: 1, windowSeconds: 10 };
  it('allows the reserve plus a ratio of the requests in the window', () => {
    const budget = new RetryBudget();
    for (let i = 0; i < 50; i++) budget.onRequest(0, cfg);
    let granted = 0;
    while (budget.tryRetry(0, cfg)) granted++;
    expect(granted).toBe(10 + 10);
    expect(budget.exhausted).toBe(1);
  });

  it('refills as old requests and retries leave the window', () => {
    const budget = new RetryBudget();
    const strict: BudgetConfig = { ratio: 0.5, minPerSecond: 0, windowSeconds: 2 };
    budget.onRequest(0, strict);
    budget.onRequest(0, strict);
    expect(budget.tryRetry(0, strict)).toBe(true);
    expect(budget.tryRetry(0, strict)).toBe(false);
    expect(budget.tryRetry(2_500, strict)).toBe(false);
    budget.onRequest(2_500, strict);
    budget.onRequest(2_500, strict);
    expect(budget.tryRetry(2_500, strict)).toBe(true);
  });
});
