import { exports } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import { CacheApiStore } from '../../src/cache/cache-api.js';
import { ResponseCache } from '../../src/cache/cache.js';
import { cacheSchema, compileCache } from '../../src/cache/config.js';
import type { CacheEntry } from '../../src/cache/entry.js';
import { STREAM_PARTS } from './upstream.global.js';

// The response cache under workerd: the Worker's own isolate cache through its real fetch handler, and the
// Cache API store (L2) that isolates of a data center share.

const chat = (body: Record<string, unknown>, headers: Record<string, string> = {}) =>
  exports.default.fetch('http://heddle.test/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ model: 'm', ...body }),
  });

describe('response cache in the Worker', () => {
  it('answers a repeated temperature-0 request from the cache, as JSON and as SSE', async () => {
    const messages = [{ role: 'user', content: `workers cache ${crypto.randomUUID()}` }];
    const first = await chat({ messages, temperature: 0 });
    expect(first.headers.get('x-heddle-cache')).toBe('miss');
    const answer = (await first.json()) as { choices: Array<{ message: { content: string } }> };
    const second = await chat({ messages, temperature: 0 });
    expect(second.headers.get('x-heddle-cache')).toBe('hit');
    expect(await second.json()).toEqual(answer);

    const streamed = await chat({ messages, temperature: 0, stream: true });
    expect(streamed.headers.get('x-heddle-cache')).toBe('hit');
    const text = await streamed.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const content = text
      .split('\n\n')
      .filter((b) => b.startsWith('data: {'))
      .map((b) => (JSON.parse(b.slice(6)) as { choices: Array<{ delta: { content?: string } }> }).choices[0]?.delta.content ?? '')
      .join('');
    expect(content).toBe(answer.choices[0]?.message.content);
  });

  it('stores a streamed miss and does not cache sampled generation', async () => {
    const messages = [{ role: 'user', content: `workers stream ${crypto.randomUUID()}` }];
    const first = await chat({ messages, seed: 3, stream: true });
    expect(first.headers.get('x-heddle-cache')).toBe('miss');
    await first.text();
    const again = await chat({ messages, seed: 3 });
    expect(again.headers.get('x-heddle-cache')).toBe('hit');
    expect(((await again.json()) as { choices: Array<{ message: { content: string } }> }).choices[0]?.message.content).toBe(STREAM_PARTS.join(''));
    const sampled = await chat({ messages, temperature: 0.9 });
    expect(sampled.headers.get('x-heddle-cache')).toBe('bypass');
    await sampled.text();
  });
});

describe('Cache API store', () => {
  const settings = compileCache(cacheSchema.parse({}));

  it('serves an entry written by one isolate cache to another with the same secret (L2 hit)', async () => {
    const writer = new ResponseCache({ secret: 'shared', persistent: new CacheApiStore(caches, 'heddle-test') });
    const parts = { tenant: 'anonymous', privacyClass: 'internal' as const, endpoint: 'chat' as const, candidates: [], request: { model: 'm', messages: [{ role: 'user' as const, content: 'l2' }] } };
    const key = await writer.key(parts);
    const now = Date.now();
    const entry: CacheEntry = {
      v: 1, key, tenant: 'anonymous', privacyClass: 'internal', target: 'up', storedAt: now, expiresAt: now + 60_000, endpoint: 'chat',
      body: { id: 'c1', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'from L2', refusal: null }, finish_reason: 'stop', logprobs: null }] },
    };
    writer.put(entry, settings);
    const raw = await caches.open('heddle-test');
    await expect.poll(async () => (await raw.match(`https://heddle.cache/${key}`)) !== undefined).toBe(true);

    const reader = new ResponseCache({ secret: 'shared', persistent: new CacheApiStore(caches, 'heddle-test') });
    expect(await reader.key(parts)).toBe(key);
    expect(reader.memory.stats().entries).toBe(0);
    const hit = await reader.get(key, { tenant: 'anonymous', privacyClass: 'internal', endpoint: 'chat' }, settings);
    expect(hit?.body).toEqual(entry.body);
    expect(reader.memory.stats().entries).toBe(1);
    // Another tenant never gets it, even when it reaches the same key.
    const other = new ResponseCache({ secret: 'shared', persistent: new CacheApiStore(caches, 'heddle-test') });
    expect(await other.get(key, { tenant: 'someone-else', privacyClass: 'internal', endpoint: 'chat' }, settings)).toBeUndefined();
  });

  it('drops a damaged entry and keeps restricted answers out of the Cache API', async () => {
    const store = new CacheApiStore(caches, 'heddle-test');
    const key = 'ab'.repeat(32);
    await store.put(key, '{"v":1,"key":"trunc', 60);
    const cache = new ResponseCache({ secret: 's', persistent: store });
    expect(await cache.get(key, { tenant: 'anonymous', privacyClass: 'internal', endpoint: 'chat' }, settings)).toBeUndefined();
    await expect.poll(async () => store.get(key)).toBeUndefined();

    const restrictedKey = 'cd'.repeat(32);
    const now = Date.now();
    cache.put(
      {
        v: 1, key: restrictedKey, tenant: 'anonymous', privacyClass: 'restricted', target: 'up', storedAt: now, expiresAt: now + 60_000, endpoint: 'chat',
        body: { id: 'c2', object: 'chat.completion', created: 1, model: 'm', choices: [{ index: 0, message: { role: 'assistant', content: 'secret', refusal: null }, finish_reason: 'stop', logprobs: null }] },
      },
      settings,
    );
    await new Promise((r) => setTimeout(r, 50));
    expect(await store.get(restrictedKey)).toBeUndefined();
    expect(cache.memory.stats().entries).toBe(1);
  });
});
