import { describe, expect, it } from 'vitest';
import { compileResilience, resilienceSchema } from '../../../src/resilience/config.js';

describe('the resilience section', () => {
  it('has defaults for everything', () => {
    const cfg = compileResilience(resilienceSchema.parse(undefined));
    expect(cfg.defaults).toEqual({ connect: 10, firstByte: 60, idle: 30, total: 600 });
    expect(cfg.retry).toEqual({ retries: 2, backoffBase: 0.1, backoffMax: 2, retryAfterCap: 5 });
    expect(cfg.breaker.failures).toBe(5);
    expect(cfg.health).toEqual({ enabled: true, interval: 10, timeout: 2 });
  });

  it('resolves timeouts as defaults <- route <- target, and retries per route', () => {
    const cfg = compileResilience(
      resilienceSchema.parse({
        retries: 1,
        timeouts: { first_byte: '20s', idle: '5s' },
        routes: { evals: { timeouts: { first_byte: '2m', total: '30m' }, retries: 4 } },
        targets: { 'cpu-box': { timeouts: { first_byte: '5m' } } },
      }),
    );
    expect(cfg.timeoutsFor('other', 'gpu')).toEqual({ connect: 10, firstByte: 20, idle: 5, total: 600 });
    expect(cfg.timeoutsFor('evals', 'gpu')).toEqual({ connect: 10, firstByte: 120, idle: 5, total: 1800 });
    expect(cfg.timeoutsFor('evals', 'cpu-box')).toEqual({ connect: 10, firstByte: 300, idle: 5, total: 1800 });
    expect(cfg.retryFor('evals').retries).toBe(4);
    expect(cfg.retryFor('other').retries).toBe(1);
  });

  it('rejects misspelt keys and bad durations', () => {
    expect(resilienceSchema.safeParse({ breaker: { failure: 3 } }).success).toBe(false);
    expect(resilienceSchema.safeParse({ timeouts: { idle: '5 seconds' } }).success).toBe(false);
  });
});
