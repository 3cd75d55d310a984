import { describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { cacheKey, keyMaterial, randomSecret, subtleSigner, type KeyParts } from '../../../src/cache/key.js';
import type { ChatRequest } from '../../../src/dialects/openai/schema.js';
import { hmacSigner } from '../../../src/node/hmac.js';

// Which requests share a cache entry: every field that can change the answer splits the key; framing
// (stream, stream_options, metadata), field order and null-vs-absent do not.

const base: ChatRequest = {
  model: 'teacher',
  messages: [{ role: 'user', content: 'What is 2+2?' }],
  temperature: 0,
  top_p: 1,
  seed: 7,
  max_tokens: 64,
  stop: ['\n\n'],
  n: 1,
  presence_penalty: 0,
  frequency_penalty: 0,
  tools: [{ type: 'function', function: { name: 'calc', parameters: { type: 'object' } } }],
  tool_choice: 'auto',
  response_format: { type: 'text' },
};

const parts = (over: Partial<KeyParts> = {}, req: Partial<ChatRequest> = {}): KeyParts => ({
  tenant: 'lab',
  privacyClass: 'internal',
  endpoint: 'chat',
  candidates: [
    { target: 'gpu-box', kind: 'fastllm', url: 'http://10.0.0.7:8000', model: 'Qwen/Qwen2.5-7B-Instruct' },
    { target: 'openai', kind: 'openai', url: 'https://api.openai.com/v1', model: 'gpt-4o-mini' },
  ],
  request: { ...base, ...req } as ChatRequest,
  ...over,
});

const differs: Array<[string, KeyParts]> = [
  ['messages', parts({}, { messages: [{ role: 'user', content: 'What is 2+3?' }] })],
  ['a system message', parts({}, { messages: [{ role: 'system', content: 'Be brief.' }, ...base.messages] })],
  ['message role', parts({}, { messages: [{ role: 'developer', content: 'What is 2+2?' }] })],
  ['tools', parts({}, { tools: [{ type: 'function', function: { name: 'calc2', parameters: { type: 'object' } } }] })],
  ['no tools', parts({}, { tools: undefined })],
  ['tool_choice', parts({}, { tool_choice: 'required' })],
  ['response_format', parts({}, { response_format: { type: 'json_object' } })],
  ['temperature', parts({}, { temperature: 0.2 })],
  ['top_p', parts({}, { top_p: 0.9 })],
  ['seed', parts({}, { seed: 8 })],
  ['max_tokens', parts({}, { max_tokens: 65 })],
  ['max_completion_tokens', parts({}, { max_completion_tokens: 64 })],
  ['stop', parts({}, { stop: ['\n'] })],
  ['n', parts({}, { n: 2 })],
  ['presence_penalty', parts({}, { presence_penalty: 0.5 })],
  ['frequency_penalty', parts({}, { frequency_penalty: 0.5 })],
  ['a pass-through field', parts({}, { repetition_penalty: 1.1 } as Partial<ChatRequest>)],
  ['tenant', parts({ tenant: 'other-lab' })],
  ['class', parts({ privacyClass: 'confidential' })],
  ['endpoint', parts({ endpoint: 'embeddings' })],
  ['target model', parts({ candidates: [{ ...parts().candidates[0]!, model: 'Qwen/Qwen2.5-7B-Instruct-AWQ' }, parts().candidates[1]!] })],
  ['target url', parts({ candidates: [{ ...parts().candidates[0]!, url: 'http://10.0.0.8:8000' }, parts().candidates[1]!] })],
  ['candidate order', parts({ candidates: [...parts().candidates].reverse() })],
  ['a candidate fewer', parts({ candidates: parts().candidates.slice(0, 1) })],
];

const same: Array<[string, KeyParts]> = [
  ['stream: true', parts({}, { stream: true })],
  ['stream_options', parts({}, { stream: true, stream_options: { include_usage: true } })],
  ['metadata', parts({}, { metadata: { run: '42' } })],
  ['the alias (resolved candidates decide)', parts({}, { model: 'teacher-v2' })],
  ['null for an absent field', parts({}, { user: undefined, logit_bias: null } as Partial<ChatRequest>)],
  ['field order', { ...parts(), request: Object.fromEntries(Object.entries(parts().request).reverse()) as ChatRequest }],
  ['nested field order', parts({}, { tools: [{ function: { parameters: { type: 'object' }, name: 'calc' }, type: 'function' }] })],
];

describe('cache key', async () => {
  const secret = subtleSigner('test-secret');
  const reference = await cacheKey(secret, parts());

  it.each(differs)('a changed %s gives another key', async (_name, changed) => {
    expect(await cacheKey(secret, changed)).not.toBe(reference);
  });

  it.each(same)('%s keeps the key', async (_name, changed) => {
    expect(await cacheKey(secret, changed)).toBe(reference);
  });

  it('is 64 hex digits that reveal nothing without the secret', async () => {
    expect(reference).toMatch(/^[0-9a-f]{64}$/);
    expect(await cacheKey(subtleSigner('another-secret'), parts())).not.toBe(reference);
    // A random per-process secret when none is configured.
    expect(randomSecret()).not.toBe(randomSecret());
    expect(randomSecret()).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is standard HMAC-SHA-256 (the same key from node:crypto)', async () => {
    const node = (m: string) => createHmac('sha256', 'test-secret').update(m).digest('hex');
    expect(await cacheKey(node, parts())).toBe(reference);
    for (const [, p] of differs.slice(0, 5)) expect(await cacheKey(node, p)).toBe(await cacheKey(secret, p));
  });

  it("is the same from the Node entry's synchronous signer, non-ASCII secret and content included", async () => {
    expect(await cacheKey(hmacSigner('test-secret'), parts())).toBe(reference);
    const unicode = parts({}, { messages: [{ role: 'user', content: 'grüße, 日本, ✓' }] });
    expect(await cacheKey(hmacSigner('sécret ✓'), unicode)).toBe(await cacheKey(subtleSigner('sécret ✓'), unicode));
  });

  it('puts tenant and class first in the keyed material', () => {
    expect(keyMaterial(parts())).toMatch(/^\[1,"lab","internal","chat",/);
  });

  it('cannot be forged across tenants by a tenant name that contains separators', async () => {
    const a = await cacheKey(secret, parts({ tenant: 'a","internal' }));
    const b = await cacheKey(secret, parts({ tenant: 'a' }));
    expect(a).not.toBe(b);
  });
});
