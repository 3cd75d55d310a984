import type { AbortLike } from '../abort.js';
import type { ChatChunk, ChatCompletion, ChatRequest, EmbeddingsRequest, EmbeddingsResponse } from '../dialects/openai/schema.js';
import { HeddleError } from '../errors.js';
import type { Metrics } from '../observability/metrics.js';
import type { PrivacyClass } from '../privacy/classes.js';
import type { Candidate } from '../routing/route.js';
import { replayChunks } from './answer.js';
import type { ResponseCache } from './cache.js';
import type { CacheSettings } from './config.js';
import { CACHE_HEADER, cacheEligibility, parseCacheDirective, type CacheStatus } from './eligibility.js';
import { ChatFlight, type UpstreamChat } from './flight.js';
import type { KeyParts } from './key.js';

// Stage 5: between route and attempts. A cacheable request is answered from the cache, joins an identical
// request in flight, or leads a new upstream call whose complete answer is stored. Everything else (sampled
// generation, mode off, `x-heddle-cache: bypass`) goes straight to the attempt loop.
//
// Request header x-heddle-cache: `bypass` (no lookup, no store, no coalescing), `refresh` (no lookup; the fresh
// answer replaces the entry), `only` (a cached answer or 404 `cache_miss`, never a target call).
// Response header x-heddle-cache: hit | miss | coalesced | refresh | bypass.

export interface CacheStageContext {
  cache: ResponseCache | undefined;
  settings: CacheSettings;
  tenant: string;
  privacyClass: PrivacyClass;
  route: string;
  candidates: readonly Candidate[];
  headers: Pick<Headers, 'get'>;
  /** The client's signal. */
  signal: AbortLike;
  metrics?: Metrics | undefined;
}

export type CachedChat = UpstreamChat & { cache: CacheStatus };

/** Runs `upstream` (the attempt loop) only when the cache cannot answer. */
export async function cachedChat(
  req: ChatRequest,
  ctx: CacheStageContext,
  upstream: (req: ChatRequest, signal: AbortLike) => Promise<UpstreamChat>,
): Promise<CachedChat> {
  const directive = parseCacheDirective(ctx.headers.get(CACHE_HEADER));
  const eligibility = cacheEligibility(req, ctx.settings, ctx.route);
  const cache = ctx.cache;
  const count = (status: CacheStatus) => ctx.metrics?.cacheRequest('chat', status);
  if (cache === undefined || !eligibility.eligible || directive === 'bypass') {
    if (directive === 'only') throw cacheMiss(cache === undefined ? 'no cache is configured' : eligibility.reason);
    count('bypass');
    return withStatus(await upstream(req, ctx.signal), 'bypass');
  }
  const parts = keyParts(ctx, 'chat', req);
  const key = await cache.key(parts);
  if (directive !== 'refresh') {
    const entry = await cache.get(key, parts, ctx.settings);
    if (entry?.endpoint === 'chat') {
      count('hit');
      return answer(entry.body, entry.target, req);
    }
    if (directive === 'only') throw cacheMiss('no cached answer for this request');
    const inFlight = cache.flights.get(key);
    if (inFlight !== undefined) {
      count('coalesced');
      return follow(inFlight, req, ctx.signal, 'coalesced');
    }
    // A flight may have stored its answer and left while the lookup above awaited (an L2 read): look again.
    const late = cache.local(key, parts, ctx.settings);
    if (late?.endpoint === 'chat') {
      count('hit');
      return answer(late.body, late.target, req);
    }
  }
  const status: CacheStatus = directive === 'refresh' ? 'refresh' : 'miss';
  count(status);
  const forget = () => {
    if (cache.flights.get(key) === flight) cache.flights.delete(key);
  };
  const flight: ChatFlight = new ChatFlight((signal) => upstream(req, signal), forget, async (result) => {
    // Stored before the flight leaves the map, so an identical request always finds one or the other.
    if (!result.storable) return;
    const now = cache.clock();
    const expiresAt = now + eligibility.ttlSeconds * 1000;
    const entry = { v: 1, key, tenant: parts.tenant, privacyClass: parts.privacyClass, target: result.target, storedAt: now, expiresAt } as const;
    await cache.put({ ...entry, endpoint: 'chat', body: result.completion }, ctx.settings);
    ctx.metrics?.cacheSize('memory', cache.memory.stats().bytes);
  });
  // A refresh does not take followers: they would expect the answer already being computed.
  if (status === 'miss') cache.flights.set(key, flight);
  flight.done.then(forget, forget);
  return follow(flight, req, ctx.signal, status);
}

/** An upstream answer with its cache status (built field by field, not spread: see src/fields.ts). */
function withStatus(up: UpstreamChat, cache: CacheStatus): CachedChat {
  if (up.kind === 'json') return { kind: 'json', completion: up.completion, target: up.target, cache };
  return { kind: 'stream', chunks: up.chunks, target: up.target, cache };
}

/** A cached answer in the shape the client asked for. */
function answer(completion: ChatCompletion, target: string, req: ChatRequest): CachedChat {
  if (req.stream) return { kind: 'stream', chunks: replay(completion), target, cache: 'hit' };
  return { kind: 'json', completion, target, cache: 'hit' };
}

async function* replay(completion: ChatCompletion): AsyncIterable<ChatChunk> {
  yield* replayChunks(completion);
}

async function follow(flight: ChatFlight, req: ChatRequest, signal: AbortLike, status: CacheStatus): Promise<CachedChat> {
  const leave = flight.join(signal);
  let up: UpstreamChat;
  try {
    up = await flight.started;
  } catch (err) {
    leave();
    throw err;
  }
  if (req.stream) return { kind: 'stream', chunks: flight.stream(up, leave), target: up.target, cache: status };
  try {
    const result = await flight.done;
    return { kind: 'json', completion: result.completion, target: result.target, cache: status };
  } finally {
    leave();
  }
}

/** Embeddings are deterministic: cached in every mode but `off`; not coalesced (each call is short). */
export async function cachedEmbeddings(
  req: EmbeddingsRequest,
  ctx: CacheStageContext,
  upstream: () => Promise<{ answer: EmbeddingsResponse; target: string }>,
): Promise<{ answer: EmbeddingsResponse; target: string; cache: CacheStatus }> {
  const directive = parseCacheDirective(ctx.headers.get(CACHE_HEADER));
  const eligibility = cacheEligibility(req, ctx.settings, ctx.route);
  const cache = ctx.cache;
  const count = (status: CacheStatus) => ctx.metrics?.cacheRequest('embeddings', status);
  if (cache === undefined || !eligibility.eligible || directive === 'bypass') {
    if (directive === 'only') throw cacheMiss(cache === undefined ? 'no cache is configured' : eligibility.reason);
    count('bypass');
    return { ...(await upstream()), cache: 'bypass' };
  }
  const parts = keyParts(ctx, 'embeddings', req);
  const key = await cache.key(parts);
  if (directive !== 'refresh') {
    const entry = await cache.get(key, parts, ctx.settings);
    if (entry?.endpoint === 'embeddings') {
      count('hit');
      return { answer: entry.body, target: entry.target, cache: 'hit' };
    }
    if (directive === 'only') throw cacheMiss('no cached answer for this request');
  }
  const status: CacheStatus = directive === 'refresh' ? 'refresh' : 'miss';
  count(status);
  const served = await upstream();
  const now = cache.clock();
  const expiresAt = now + eligibility.ttlSeconds * 1000;
  await cache.put({ v: 1, key, tenant: parts.tenant, privacyClass: parts.privacyClass, endpoint: 'embeddings', target: served.target, storedAt: now, expiresAt, body: served.answer }, ctx.settings);
  ctx.metrics?.cacheSize('memory', cache.memory.stats().bytes);
  return { ...served, cache: status };
}

function keyParts(ctx: CacheStageContext, endpoint: 'chat' | 'embeddings', request: ChatRequest | EmbeddingsRequest): KeyParts {
  return {
    tenant: ctx.tenant,
    privacyClass: ctx.privacyClass,
    endpoint,
    candidates: ctx.candidates.map((c) => ({ target: c.target.name, kind: c.target.kind, url: c.target.url, model: c.model })),
    request,
  };
}

function cacheMiss(reason: string): HeddleError {
  return new HeddleError({
    status: 404,
    type: 'not_found_error',
    code: 'cache_miss',
    param: CACHE_HEADER,
    message: `x-heddle-cache: only was sent, and the cache has no answer: ${reason}.`,
  });
}

