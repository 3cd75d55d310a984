import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../../src/resilience/breaker.js';
import type { BreakerConfig } from '../../../src/resilience/config.js';

const cfg: BreakerConfig = { failures: 3, errorRate: 0.5, minRequests: 10, windowSeconds: 30, cooldownSeconds: 10, halfOpenRequests: 2 };

describe('CircuitBreaker', () => {
  it('opens after consecutive failures; a success in between resets the count', () => {
    const b = new CircuitBreaker();
    b.onFailure(0, cfg, false);
    b.onFailure(1, cfg, false);
    b.onSuccess(2, cfg, false);
    b.onFailure(3, cfg, false);
    b.onFailure(4, cfg, false);
    expect(b.view(5, cfg).state).toBe('closed');
    b.onFailure(6, cfg, false);
    expect(b.view(7, cfg).state).toBe('open');
    expect(b.tryAcquire(8, cfg)).toBe(false);
    expect(b.view(8, cfg).retryInMs).toBe(9998);
  });

  it('opens on the error rate over the window once enough requests were seen', () => {
    const b = new CircuitBreaker();
    // Alternating outcomes never make 3 in a row, but half of them fail.
    for (let i = 0; i < 9; i++) (i % 2 === 0 ? b.onFailure : b.onSuccess).call(b, i * 100, cfg, false);
    expect(b.view(900, cfg).state).toBe('closed');
    b.onFailure(1000, cfg, false);
    expect(b.view(1000, cfg).state).toBe('open');
  });

  it('forgets outcomes older than the window', () => {
    const b = new CircuitBreaker();
    for (let i = 0; i < 9; i++) (i % 2 === 0 ? b.onFailure : b.onSuccess).call(b, 0, cfg, false);
    b.onSuccess(40_000, cfg, false);
    expect(b.view(40_000, cfg).errorRate).toBe(0);
  });

  it('half-opens after the cooldown with a limited number of trials; a success closes it', () => {
    const b = new CircuitBreaker();
    for (let i = 0; i < 3; i++) b.onFailure(0, cfg, false);
    expect(b.tryAcquire(9_999, cfg)).toBe(false);
    expect(b.tryAcquire(10_000, cfg)).toBe(true);
    expect(b.view(10_000, cfg).state).toBe('half_open');
    expect(b.tryAcquire(10_001, cfg)).toBe(true);
    expect(b.tryAcquire(10_002, cfg)).toBe(false);
    b.onSuccess(10_003, cfg, true);
    expect(b.view(10_003, cfg).state).toBe('closed');
    expect(b.tryAcquire(10_004, cfg)).toBe(true);
  });

  it('opens again for a full cooldown when a trial fails', () => {
    const b = new CircuitBreaker();
    for (let i = 0; i < 3; i++) b.onFailure(0, cfg, false);
    expect(b.tryAcquire(10_000, cfg)).toBe(true);
    b.onFailure(10_500, cfg, true);
    expect(b.view(10_500, cfg).state).toBe('open');
    expect(b.tryAcquire(20_000, cfg)).toBe(false);
    expect(b.tryAcquire(20_500, cfg)).toBe(true);
    expect(b.view(20_500, cfg).opened).toBe(2);
  });

  it('gives a trial slot back when the trial ends without a verdict', () => {
    const b = new CircuitBreaker();
    for (let i = 0; i < 3; i++) b.onFailure(0, cfg, false);
    expect(b.tryAcquire(10_000, cfg)).toBe(true);
    expect(b.tryAcquire(10_000, cfg)).toBe(true);
    expect(b.tryAcquire(10_000, cfg)).toBe(false);
    b.release(true);
    expect(b.tryAcquire(10_000, cfg)).toBe(true);
  });
});
