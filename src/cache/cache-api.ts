import type { PersistentStore } from './cache.js';

// The Workers L2: the Cache API of the data center, under synthetic GET URLs (https://heddle.cache/<key>) that
// never reach an origin. Entries expire by Cache-Control max-age as well as by their own expiry.

const BASE = 'https://heddle.cache/';

export class CacheApiStore implements PersistentStore {
  readonly name = 'cache-api';
  private cache: Promise<Cache> | undefined;

  constructor(private readonly storage: CacheStorage, private readonly cacheName = 'heddle') {}

  async get(key: string): Promise<string | undefined> {
    const res = await (await this.open()).match(new Request(BASE + key));
    return res === undefined ? undefined : res.text();
  }

  async put(key: string, text: string, ttlSeconds: number): Promise<void> {
    const res = new Response(text, { headers: { 'content-type': 'application/json', 'cache-control': `max-age=${ttlSeconds}` } });
    await (await this.open()).put(new Request(BASE + key), res);
  }

  async delete(key: string): Promise<void> {
    await (await this.open()).delete(new Request(BASE + key));
  }

  private open(): Promise<Cache> {
    this.cache ??= this.storage.open(this.cacheName);
    return this.cache;
  }
}
