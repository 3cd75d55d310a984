import * as z from 'zod';
import { chatCompletionSchema, embeddingsResponseSchema, type ChatCompletion, type EmbeddingsResponse } from '../dialects/openai/schema.js';
import { PRIVACY_CLASSES, type PrivacyClass } from '../privacy/classes.js';

// One cached answer with what is needed to check it before serving: whose it is (tenant, class; also inside the
// key, checked again here), which target produced it, and when it expires (wall-clock milliseconds, so an entry
// on disk keeps its expiry across restarts). Entries read back from disk or the Cache API are validated.

export type CacheEntry =
  | (EntryMeta & { endpoint: 'chat'; body: ChatCompletion })
  | (EntryMeta & { endpoint: 'embeddings'; body: EmbeddingsResponse });

export interface EntryMeta {
  v: 1;
  key: string;
  tenant: string;
  privacyClass: PrivacyClass;
  target: string;
  storedAt: number;
  expiresAt: number;
}

const meta = {
  v: z.literal(1),
  key: z.string().regex(/^[0-9a-f]{64}$/),
  tenant: z.string(),
  privacyClass: z.enum(PRIVACY_CLASSES),
  target: z.string(),
  storedAt: z.number(),
  expiresAt: z.number(),
};

export const cacheEntrySchema = z.discriminatedUnion('endpoint', [
  z.strictObject({ ...meta, endpoint: z.literal('chat'), body: chatCompletionSchema }),
  z.strictObject({ ...meta, endpoint: z.literal('embeddings'), body: embeddingsResponseSchema }),
]);

/** A serialized entry back to an entry; undefined for anything damaged, truncated or written under another key. */
export function decodeEntry(text: string, key: string): CacheEntry | undefined {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = cacheEntrySchema.safeParse(raw);
  if (!parsed.success || parsed.data.key !== key) return undefined;
  return parsed.data;
}

const encoder = new TextEncoder();

/** Size an entry counts against a byte bound: its serialized UTF-8 length. */
export function entryBytes(text: string): number {
  // Fast path for ASCII, the common case; exact UTF-8 length otherwise.
  // eslint-disable-next-line no-control-regex
  return /^[\x00-\x7f]*$/.test(text) ? text.length : encoder.encode(text).byteLength;
}
