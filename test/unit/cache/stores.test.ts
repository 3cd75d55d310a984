import * as fsp from 'node:fs/promises';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResponseCache } from '../../../src/cache/cache.js';
import { cacheSchema, compileCache } from '../../../src/cache/config.js';
import { DiskStore, diskSecret } from '../../../src/cache/disk.js';
import type { CacheEntry } from '../../../src/cache/entry.js';
import { MemoryStore } from '../../../src/cache/memory.js';

const settings = (raw: unknown = {}) => compileCache(cacheSchema.parse(raw));

function entry(key: string, over: Partial<CacheEntry> = {}, text = 'cached answer'): CacheEntry {
  return {
    v: 1,
    key,
    tenant: 'lab',
    privacyClass: 'internal',
    target: 'up',
    storedAt: 0,
    expiresAt: 60_000,
    endpoint: 'chat',
    body: {
      id: 'chatcmpl-1',
      object: 'chat.completion',
      created: 1,
      model: 'm',
      choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
    },
    ...over,
  } as CacheEntry;
}

const hexKey = (i: number) => i.toString(16).padStart(64, '0');
const want = { tenant: 'lab', privacyClass: 'internal' as const, endpoint: 'chat' as const };

describe('memory store', () => {
  it('keeps the byte bound under churn, evicting the least recently used', () => {
    const store = new MemoryStore(10_000);
    for (let i = 0; i < 5_000; i++) {
      store.put(hexKey(i), entry(hexKey(i)), 300 + (i % 7) * 50);
      if (i % 3 === 0) store.get(hexKey(Math.max(0, i - 10)));
      expect(store.stats().bytes).toBeLessThanOrEqual(10_000);
    }
    expect(store.get(hexKey(4_999))).toBeDefined();
    expect(store.get(hexKey(0))).toBeUndefined();
    expect(store.stats().evictions).toBeGreaterThan(4_900);
  });

  it('keeps a recently read entry over an older unread one', () => {
    const store = new MemoryStore(1_000);
    store.put('a', entry(hexKey(1)), 400);
    store.put('b', entry(hexKey(2)), 400);
    store.get('a');
    store.put('c', entry(hexKey(3)), 400);
    expect(store.get('a')).toBeDefined();
    expect(store.get('b')).toBeUndefined();
  });

  it('refuses an entry larger than the bound and shrinks on resize', () => {
    const store = new MemoryStore(1_000);
    store.put('big', entry(hexKey(1)), 1_001);
    expect(store.stats()).toMatchObject({ entries: 0, bytes: 0 });
    store.put('a', entry(hexKey(1)), 400);
    store.put('b', entry(hexKey(2)), 400);
    store.resize(500);
    expect(store.stats()).toMatchObject({ entries: 1, bytes: 400 });
  });
});

describe('response cache', () => {
  it('expires entries by TTL on an injected clock', async () => {
    let now = 1_000;
    const cache = new ResponseCache({ secret: 's', clock: () => now });
    const s = settings();
    cache.put(entry(hexKey(1), { storedAt: now, expiresAt: now + 5_000 }), s);
    expect(await cache.get(hexKey(1), want, s)).toBeDefined();
    now += 4_999;
    expect(await cache.get(hexKey(1), want, s)).toBeDefined();
    now += 1;
    expect(await cache.get(hexKey(1), want, s)).toBeUndefined();
    expect(cache.memory.stats().entries).toBe(0);
  });

  it('never serves an entry to another tenant, class or endpoint, even under the same key', async () => {
    const cache = new ResponseCache({ secret: 's', clock: () => 0 });
    const s = settings();
    for (const other of [{ ...want, tenant: 'other' }, { ...want, privacyClass: 'public' as const }, { ...want, endpoint: 'embeddings' as const }]) {
      cache.put(entry(hexKey(2)), s);
      expect(await cache.get(hexKey(2), other, s)).toBeUndefined();
    }
  });

  it('does not store answers over max_entry_bytes and follows max_bytes from the policy', async () => {
    const cache = new ResponseCache({ secret: 's', clock: () => 0 });
    cache.put(entry(hexKey(3), {}, 'x'.repeat(5_000)), settings({ max_entry_bytes: 4_000 }));
    expect(cache.memory.stats().entries).toBe(0);
    const small = settings({ max_bytes: 3_000 });
    for (let i = 0; i < 20; i++) cache.put(entry(hexKey(i)), small);
    expect(cache.memory.stats().bytes).toBeLessThanOrEqual(3_000);
  });
});

describe('disk store', () => {
  const dir = () => mkdtempSync(join(tmpdir(), 'heddle-cache-'));

  it('survives a restart (a new store and cache over the same directory and secret)', async () => {
    const d = dir();
    const secret = await diskSecret(fsp, d, undefined);
    expect(await diskSecret(fsp, d, undefined)).toBe(secret);
    const s = settings();
    const first = new ResponseCache({ secret, clock: () => 0, persistent: await DiskStore.open(fsp, d, 1e6) });
    const key = await first.key({ tenant: 'lab', privacyClass: 'internal', endpoint: 'chat', candidates: [], request: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
    first.put(entry(key), s);
    await waitFor(async () => (await fsp.readdir(d)).includes(`${key}.json`));

    const second = new ResponseCache({ secret, clock: () => 0, persistent: await DiskStore.open(fsp, d, 1e6) });
    const again = await second.key({ tenant: 'lab', privacyClass: 'internal', endpoint: 'chat', candidates: [], request: { model: 'm', messages: [{ role: 'user', content: 'hi' }] } });
    expect(again).toBe(key);
    const hit = await second.get(key, want, s);
    expect(hit?.endpoint === 'chat' ? hit.body.choices[0] : undefined).toMatchObject({ message: { content: 'cached answer' } });
    // Promoted to memory.
    expect(second.memory.stats().entries).toBe(1);
  });

  it('ignores and removes a truncated or damaged file, and one written under another key', async () => {
    const d = dir();
    const s = settings();
    const cache = new ResponseCache({ secret: 'x', clock: () => 0, persistent: await DiskStore.open(fsp, d, 1e6) });
    cache.put(entry(hexKey(7)), s);
    cache.put(entry(hexKey(8)), s);
    await waitFor(async () => (await jsonFiles(d)).length === 2);
    const path = join(d, `${hexKey(7)}.json`);
    const text = await fsp.readFile(path, 'utf8');
    await fsp.writeFile(path, text.slice(0, text.length / 2));
    await fsp.copyFile(join(d, `${hexKey(8)}.json`), join(d, `${hexKey(9)}.json`));

    const reopened = new ResponseCache({ secret: 'x', clock: () => 0, persistent: await DiskStore.open(fsp, d, 1e6) });
    expect(await reopened.get(hexKey(7), want, s)).toBeUndefined();
    expect(await reopened.get(hexKey(9), want, s)).toBeUndefined();
    expect(await reopened.get(hexKey(8), want, s)).toBeDefined();
    await waitFor(async () => (await jsonFiles(d)).length === 1);
  });

  it('keeps to its byte bound, dropping the least recently used files, and clears temporary files', async () => {
    const d = dir();
    await fsp.writeFile(join(d, `${hexKey(1)}.json.abc.tmp`), 'partial');
    const store = await DiskStore.open(fsp, d, 5_000);
    expect(await fsp.readdir(d)).toEqual([]);
    const text = JSON.stringify(entry(hexKey(0)));
    for (let i = 0; i < 30; i++) await store.put(hexKey(i), text, 60);
    expect(store.bytes()).toBeLessThanOrEqual(5_000);
    const files = await fsp.readdir(d);
    expect(files.length).toBe(Math.floor(5_000 / new TextEncoder().encode(text).byteLength));
    expect(files).toContain(`${hexKey(29)}.json`);
    // The bound also holds when reopened with a smaller one.
    const smaller = await DiskStore.open(fsp, d, 1_000);
    expect(smaller.bytes()).toBeLessThanOrEqual(1_000);
  });

  it('keeps restricted answers out of the disk store unless the policy allows it', async () => {
    const d = dir();
    const cache = new ResponseCache({ secret: 'x', clock: () => 0, persistent: await DiskStore.open(fsp, d, 1e6) });
    cache.put(entry(hexKey(1), { privacyClass: 'restricted' }), settings());
    cache.put(entry(hexKey(2), { privacyClass: 'confidential' }), settings());
    cache.put(entry(hexKey(3), { privacyClass: 'confidential' }), settings({ persist: 'internal' }));
    cache.put(entry(hexKey(4), { privacyClass: 'restricted' }), settings({ persist: 'restricted' }));
    await waitFor(async () => (await jsonFiles(d)).length === 2);
    await new Promise((r) => setTimeout(r, 50));
    expect((await fsp.readdir(d)).sort()).toEqual([`${hexKey(2)}.json`, `${hexKey(4)}.json`]);
    expect(cache.memory.stats().entries).toBe(4);
  });
});

const jsonFiles = async (d: string) => (await fsp.readdir(d)).filter((f) => f.endsWith('.json'));

async function waitFor(check: () => Promise<boolean>, ms = 2_000): Promise<void> {
  const until = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
