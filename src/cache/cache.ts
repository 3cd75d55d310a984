import { atLeast } from '../privacy/classes.js';
import type { CacheSettings } from './config.js';
import { decodeEntry, entryBytes, type CacheEntry } from './entry.js';
import type { ChatFlight } from './flight.js';
import { cacheKey, randomSecret, subtleSigner, type KeyParts, type KeySigner } from './key.js';
import { MemoryStore } from './memory.js';

// The response cache: keys, an in-process LRU (L1), an optional persistent store (L2: disk on Node, the Cache
// API on Workers) and the requests in flight. Entries of a class above the policy's `persist` class never reach
// L2. A hit is checked again for tenant, class and expiry before it is served.

/** A store outside process memory; it holds serialized entries, validated when read back. */
export interface PersistentStore {
  readonly name: string;
  get(key: string): Promise<string | undefined>;
  put(key: string, text: string, ttlSeconds: number): Promise<void>;
  delete(key: string): Promise<void>;
  /** Bytes held, where the store knows (for /metrics). */
  bytes?(): number;
}

export interface ResponseCacheOptions {
  /** HEDDLE_CACHE_SECRET; a random per-process secret when unset (then L2 entries do not outlive the process). */
  secret?: string | undefined;
  /**
   * Makes the key signer for the secret: HMAC-SHA-256, hex. Default crypto.subtle (every runtime); the Node entry
   * passes node:crypto's, which signs synchronously instead of as a thread-pool job (~70 us per request, a quarter
   * of a cache hit's CPU, under load). Both give the same keys, so entries on disk outlive the switch.
   */
  signer?: (secret: string) => KeySigner;
  /** Wall-clock milliseconds (expiry must survive restarts, so not a monotonic clock). */
  clock?: () => number;
  /** Initial L1 bound; the policy's `cache.max_bytes` applies from the first request. */
  memoryBytes?: number;
  /** A ceiling on the L1 bound whatever the policy says (a Workers isolate has 128 MB in all). */
  memoryCap?: number;
  persistent?: PersistentStore | undefined;
  /**
   * Wait for the persistent store's write before the answer ends. Needed on Workers, where I/O left running after
   * a request's response is cancelled; on Node the write runs in the background.
   */
  awaitPersist?: boolean;
  /** Problems with the persistent store (never request content). */
  log?: (level: 'warn', message: string, fields?: Record<string, unknown>) => void;
}

export interface Lookup {
  tenant: string;
  privacyClass: KeyParts['privacyClass'];
  endpoint: CacheEntry['endpoint'];
}

export class ResponseCache {
  readonly memory: MemoryStore;
  readonly persistent: PersistentStore | undefined;
  readonly clock: () => number;
  /** Chat requests in flight by key, for coalescing. */
  readonly flights = new Map<string, ChatFlight>();
  private readonly sign: KeySigner;
  private readonly log: NonNullable<ResponseCacheOptions['log']>;
  private readonly memoryCap: number;
  private readonly awaitPersist: boolean;

  constructor(options: ResponseCacheOptions = {}) {
    this.memory = new MemoryStore(options.memoryBytes ?? 256 * 1024 ** 2);
    this.persistent = options.persistent;
    this.clock = options.clock ?? Date.now;
    const secret = options.secret !== undefined && options.secret !== '' ? options.secret : randomSecret();
    this.sign = (options.signer ?? subtleSigner)(secret);
    this.log = options.log ?? (() => undefined);
    this.memoryCap = options.memoryCap ?? Number.POSITIVE_INFINITY;
    this.awaitPersist = options.awaitPersist ?? false;
  }

  key(parts: KeyParts): Promise<string> {
    return cacheKey(this.sign, parts);
  }

  /** L1, then L2 (promoting a hit to L1); undefined on a miss, an expired entry or one of another tenant/class. */
  async get(key: string, want: Lookup, settings: CacheSettings): Promise<CacheEntry | undefined> {
    if (this.memory.has(key)) return this.local(key, want, settings);
    const now = this.clock();
    const l2 = this.persistent;
    if (l2 === undefined || !atLeast(settings.persist, want.privacyClass)) return undefined;
    let text: string | undefined;
    try {
      text = await l2.get(key);
    } catch (err) {
      this.log('warn', 'cache store read failed', { store: l2.name, error: String(err) });
      return undefined;
    }
    if (text === undefined) return undefined;
    const entry = decodeEntry(text, key);
    if (entry === undefined || entry.expiresAt <= now || !matches(entry, want)) {
      // Damaged, expired or misplaced: removed so it is not read again.
      void l2.delete(key).catch(() => undefined);
      return undefined;
    }
    this.memory.put(key, entry, entryBytes(text));
    return entry;
  }

  /** L1 only, synchronously (the stage's last look before it calls a target). */
  local(key: string, want: Lookup, settings: CacheSettings): CacheEntry | undefined {
    this.memory.resize(Math.min(settings.maxBytes, this.memoryCap));
    const entry = this.memory.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > this.clock() && matches(entry, want)) return entry;
    this.memory.delete(key);
    return undefined;
  }

  /**
   * Stores a complete answer in L1 and, when its class may leave memory, in L2: in the background, or before the
   * returned promise resolves with `awaitPersist`. Never rejects: a failed L2 write is logged.
   */
  put(entry: CacheEntry, settings: CacheSettings): Promise<void> {
    const text = JSON.stringify(entry);
    const bytes = entryBytes(text);
    if (bytes > settings.maxEntryBytes) return Promise.resolve();
    this.memory.resize(Math.min(settings.maxBytes, this.memoryCap));
    this.memory.put(entry.key, entry, bytes);
    const l2 = this.persistent;
    if (l2 === undefined || !atLeast(settings.persist, entry.privacyClass)) return Promise.resolve();
    const ttl = Math.max(1, Math.ceil((entry.expiresAt - entry.storedAt) / 1000));
    const written = l2.put(entry.key, text, ttl).catch((err: unknown) => {
      this.log('warn', 'cache store write failed', { store: l2.name, error: String(err) });
    });
    return this.awaitPersist ? written : Promise.resolve();
  }
}

function matches(entry: CacheEntry, want: Lookup): boolean {
  return entry.tenant === want.tenant && entry.privacyClass === want.privacyClass && entry.endpoint === want.endpoint;
}
