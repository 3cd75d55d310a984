import { describe, expect, it } from 'vitest';
import { cacheSchema, compileCache } from '../../../src/cache/config.js';
import { cacheEligibility, parseCacheDirective } from '../../../src/cache/eligibility.js';
import type { ChatRequest, EmbeddingsRequest } from '../../../src/dialects/openai/schema.js';

const settings = (raw: unknown = {}) => compileCache(cacheSchema.parse(raw));
const chat = (over: Partial<ChatRequest>): ChatRequest => ({ model: 'm', messages: [{ role: 'user', content: 'x' }], ...over });

describe('cache eligibility', () => {
  const deterministic = settings();
  it.each([
    ['temperature 0', chat({ temperature: 0 }), true],
    ['a seed', chat({ temperature: 0.9, seed: 1 }), true],
    ['seed 0', chat({ seed: 0 }), true],
    ['temperature 0.7 without seed', chat({ temperature: 0.7 }), false],
    ['no temperature, no seed (defaults to 1)', chat({}), false],
    ['temperature null', chat({ temperature: null }), false],
    ['n = 2 at temperature 0', chat({ temperature: 0, n: 2 }), false],
    ['n = 1 at temperature 0', chat({ temperature: 0, n: 1 }), true],
  ])('deterministic mode: %s -> %s', (_name, req, eligible) => {
    const verdict = cacheEligibility(req, deterministic, 'r');
    expect(verdict.eligible).toBe(eligible);
    expect(verdict.reason.length).toBeGreaterThan(0);
  });

  it('embeddings are eligible unless the cache is off', () => {
    const req: EmbeddingsRequest = { model: 'e', input: 'x' };
    expect(cacheEligibility(req, deterministic, 'r').eligible).toBe(true);
    expect(cacheEligibility(req, settings({ mode: 'off' }), 'r').eligible).toBe(false);
  });

  it('always mode caches sampled generation; off caches nothing', () => {
    expect(cacheEligibility(chat({ temperature: 1, n: 3 }), settings({ mode: 'always' }), 'r').eligible).toBe(true);
    expect(cacheEligibility(chat({ temperature: 0 }), settings({ mode: 'off' }), 'r')).toMatchObject({ eligible: false, mode: 'off' });
  });

  it('a route override sets mode and TTL for that route only', () => {
    const s = settings({ mode: 'deterministic', ttl: '1h', routes: { replay: { mode: 'always', ttl: '10m' }, live: { mode: 'off' } } });
    expect(cacheEligibility(chat({ temperature: 1 }), s, 'replay')).toMatchObject({ eligible: true, mode: 'always', ttlSeconds: 600 });
    expect(cacheEligibility(chat({ temperature: 0 }), s, 'live')).toMatchObject({ eligible: false, mode: 'off', ttlSeconds: 3600 });
    expect(cacheEligibility(chat({ temperature: 1 }), s, 'other')).toMatchObject({ eligible: false, mode: 'deterministic' });
  });

  it('parses sizes and rejects unknown keys', () => {
    expect(settings({ max_bytes: '64MB', max_entry_bytes: '512KB' })).toMatchObject({ maxBytes: 64 * 1024 ** 2, maxEntryBytes: 512 * 1024 });
    expect(cacheSchema.safeParse({ mdoe: 'off' }).success).toBe(false);
    expect(cacheSchema.safeParse({ max_bytes: '12 parsecs' }).success).toBe(false);
  });

  it('reads the request header', () => {
    expect(parseCacheDirective(null)).toBeUndefined();
    expect(parseCacheDirective('Refresh')).toBe('refresh');
    expect(() => parseCacheDirective('please')).toThrow(/bypass, refresh, only/);
  });
});
