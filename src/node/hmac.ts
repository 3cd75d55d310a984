import { createHmac, createSecretKey } from 'node:crypto';
import type { KeySigner } from '../cache/index.js';

/** Cache keys with node:crypto: the same HMAC-SHA-256 hex as crypto.subtle, computed synchronously. */
export function hmacSigner(secret: string): KeySigner {
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  return (material) => createHmac('sha256', key).update(material).digest('hex');
}
