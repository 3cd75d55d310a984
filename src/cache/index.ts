// Stage 5, the response cache: see stage.ts for the request path and config.ts for the policy section.
export { ResponseCache, type PersistentStore, type ResponseCacheOptions } from './cache.js';
export { CacheApiStore } from './cache-api.js';
export { cacheSchema, compileCache, DEFAULT_CACHE_SETTINGS, type CacheConfig, type CacheMode, type CacheSettings } from './config.js';
export type { UpstreamChat } from './flight.js';
export { DiskStore, diskSecret, type DiskFs } from './disk.js';
export { CACHE_HEADER, cacheEligibility, type CacheEligibility, type CacheStatus } from './eligibility.js';
export { subtleSigner, type KeySigner } from './key.js';
export { cachedChat, cachedEmbeddings, type CacheStageContext, type CachedChat } from './stage.js';
