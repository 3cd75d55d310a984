import * as z from 'zod';
import { durationSchema } from '../policy/duration.js';
import { PRIVACY_CLASSES, type PrivacyClass } from '../privacy/classes.js';

// The `cache` section of a policy. Modes: `off`; `deterministic` (default: only requests whose answer is fixed,
// temperature 0 or a seed, n = 1; embeddings always); `always` (also sampled requests: only for routes whose
// callers want repeats answered from the cache). `persist` is the most sensitive class whose entries may leave
// process memory (disk on Node, the Cache API on Workers); restricted answers stay in memory by default.

export const cacheModeSchema = z.enum(['off', 'deterministic', 'always']);
export type CacheMode = z.output<typeof cacheModeSchema>;

const BYTE_UNITS: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 };

/** Bytes, written as a number or a string like "512KB", "256MB", "1GB" (binary units). */
export const byteSizeSchema = z.union([
  z.number().int().nonnegative(),
  z
    .string()
    .regex(/^\d+(\.\d+)?(B|KB|MB|GB)$/, 'a size like "512KB", "256MB" or "1GB"')
    .transform((v) => Math.floor(Number.parseFloat(v) * (BYTE_UNITS[/(B|KB|MB|GB)$/.exec(v)?.[1] ?? 'B'] ?? 1))),
]);

const routeOverrideSchema = z.strictObject({
  mode: cacheModeSchema.optional(),
  ttl: durationSchema.optional(),
});

export const cacheSchema = z
  .strictObject({
    mode: cacheModeSchema.default('deterministic'),
    ttl: durationSchema.default(3600),
    /** Bound of the in-process store. */
    max_bytes: byteSizeSchema.default(256 * 1024 ** 2),
    /** Answers larger than this are served but not stored. */
    max_entry_bytes: byteSizeSchema.default(4 * 1024 ** 2),
    persist: z.enum(PRIVACY_CLASSES).default('confidential'),
    /** Per route name: a different mode or TTL (e.g. `always` for a route that serves evaluation replays). */
    routes: z.record(z.string(), routeOverrideSchema).default({}),
  })
  .default({ mode: 'deterministic', ttl: 3600, max_bytes: 256 * 1024 ** 2, max_entry_bytes: 4 * 1024 ** 2, persist: 'confidential', routes: {} });

export type CacheConfig = z.output<typeof cacheSchema>;

/** The runtime form, read by the cache stage on every request. */
export interface CacheSettings {
  readonly mode: CacheMode;
  readonly ttlSeconds: number;
  readonly maxBytes: number;
  readonly maxEntryBytes: number;
  readonly persist: PrivacyClass;
  readonly routes: ReadonlyMap<string, { readonly mode: CacheMode; readonly ttlSeconds: number }>;
}

export function compileCache(config: CacheConfig): CacheSettings {
  const routes = new Map(
    Object.entries(config.routes).map(([name, r]) => [name, { mode: r.mode ?? config.mode, ttlSeconds: r.ttl ?? config.ttl }]),
  );
  return {
    mode: config.mode,
    ttlSeconds: config.ttl,
    maxBytes: config.max_bytes,
    maxEntryBytes: config.max_entry_bytes,
    persist: config.persist,
    routes,
  };
}

/** Settings when a policy has no cache section at all (tests, compile of older policies). */
export const DEFAULT_CACHE_SETTINGS: CacheSettings = compileCache(cacheSchema.parse(undefined));
