import type { ChatRequest, EmbeddingsRequest } from '../dialects/openai/schema.js';
import type { PrivacyClass } from '../privacy/classes.js';

// Cache keys: HMAC-SHA-256 (crypto.subtle) under a server secret over the canonical request, so a key reveals
// nothing about the prompt, tenant or class. The canonical request is the whole body except the fields that
// change only the framing of the answer (stream, stream_options), bookkeeping (metadata) and the alias (`model`,
// replaced by what resolves from it): the route's ordered candidates, each as target name, kind, URL and model id.
// Failover keeps one key: a request is looked up and stored under the candidate list, whichever candidate served.
// Unknown fields are kept (they are passed through to OpenAI-wire targets and may change the answer).

export interface KeyCandidate {
  target: string;
  kind: string;
  url: string;
  model: string;
}

export interface KeyParts {
  tenant: string;
  privacyClass: PrivacyClass;
  endpoint: 'chat' | 'embeddings';
  candidates: readonly KeyCandidate[];
  request: ChatRequest | EmbeddingsRequest;
}

const FRAMING_FIELDS: ReadonlySet<string> = new Set(['model', 'stream', 'stream_options', 'metadata']);

/**
 * JSON with object keys sorted at every level, so field order never changes a key; undefined fields are dropped.
 * Built by concatenation (no array per level): it runs on every cacheable request, hit or miss.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) {
    let out = '[';
    for (let i = 0; i < value.length; i++) {
      const v: unknown = value[i];
      out += (i === 0 ? '' : ',') + (v === undefined ? 'null' : canonicalJson(v));
    }
    return `${out}]`;
  }
  const record = value as Record<string, unknown>;
  let out = '{';
  for (const k of Object.keys(record).sort()) {
    const v = record[k];
    if (v === undefined) continue;
    out += `${out.length === 1 ? '' : ','}${JSON.stringify(k)}:${canonicalJson(v)}`;
  }
  return `${out}}`;
}

/** The text the key is computed over: tenant and class first, then endpoint, candidates and the request. */
export function keyMaterial(parts: KeyParts): string {
  const body: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parts.request)) {
    // null and absent mean the same to every target (OpenAI's wire treats them alike).
    if (!FRAMING_FIELDS.has(k) && v !== null) body[k] = v;
  }
  const candidates = parts.candidates.map((c) => [c.target, c.kind, c.url, c.model]);
  return canonicalJson([1, parts.tenant, parts.privacyClass, parts.endpoint, candidates, body]);
}

/** HMAC-SHA-256 of the key material under the secret, as 64 hex digits. */
export type KeySigner = (material: string) => string | Promise<string>;

/** A secret for when none is configured: keys then live only as long as the process. */
export function randomSecret(): string {
  return toHex(crypto.getRandomValues(new Uint8Array(32)));
}

/** The web-standard signer (crypto.subtle), for every runtime; the Node entry may pass a faster one. */
export function subtleSigner(secret: string): KeySigner {
  const key = crypto.subtle.importKey('raw', new TextEncoder().encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return async (material) => toHex(new Uint8Array(await crypto.subtle.sign('HMAC', await key, new TextEncoder().encode(material))));
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function toHex(bytes: Uint8Array): string {
  let hex = '';
  for (const b of bytes) hex += HEX[b];
  return hex;
}

export async function cacheKey(sign: KeySigner, parts: KeyParts): Promise<string> {
  return sign(keyMaterial(parts));
}
