import type { ChatRequest, EmbeddingsRequest } from '../dialects/openai/schema.js';
import { invalidRequest } from '../errors.js';
import type { CacheMode, CacheSettings } from './config.js';

// Whether a request may be answered from (and stored in) the cache. Pure, so the explain endpoint can show the
// same answer the cache stage acts on. Sampled generation (temperature > 0 without a seed, or n > 1) is never
// cached in `deterministic` mode: DeepFabric repeats such requests on purpose to get different samples.

export const CACHE_HEADER = 'x-heddle-cache';

/** What a client may ask for in the x-heddle-cache request header. */
export type CacheDirective = 'bypass' | 'refresh' | 'only';

/** The cache status sent back in the x-heddle-cache response header. */
export type CacheStatus = 'hit' | 'miss' | 'bypass' | 'coalesced' | 'refresh';

export interface CacheEligibility {
  eligible: boolean;
  reason: string;
  mode: CacheMode;
  ttlSeconds: number;
}

export function cacheEligibility(req: ChatRequest | EmbeddingsRequest, settings: CacheSettings, route: string): CacheEligibility {
  const override = settings.routes.get(route);
  const mode = override?.mode ?? settings.mode;
  const ttlSeconds = override?.ttlSeconds ?? settings.ttlSeconds;
  const verdict = (eligible: boolean, reason: string): CacheEligibility => ({ eligible, reason, mode, ttlSeconds });
  if (mode === 'off') return verdict(false, `cache mode is off for route '${route}'`);
  if (!('messages' in req)) return verdict(true, 'embeddings are deterministic');
  if (mode === 'always') return verdict(true, `cache mode is always for route '${route}'`);
  if ((req.n ?? 1) !== 1) return verdict(false, 'n > 1 asks for several samples');
  if (req.temperature === 0) return verdict(true, 'temperature 0');
  if (req.seed !== undefined && req.seed !== null) return verdict(true, 'a seed is given');
  return verdict(
    false,
    req.temperature === undefined || req.temperature === null
      ? 'no temperature (defaults to 1) and no seed: sampled generation'
      : `temperature ${req.temperature} without a seed: sampled generation`,
  );
}

export function parseCacheDirective(value: string | null): CacheDirective | undefined {
  if (value === null) return undefined;
  const v = value.trim().toLowerCase();
  if (v === 'bypass' || v === 'refresh' || v === 'only') return v;
  throw invalidRequest(`Header ${CACHE_HEADER} must be one of bypass, refresh, only (got '${value.slice(0, 40)}').`, CACHE_HEADER);
}
