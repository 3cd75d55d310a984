import { HeddleError } from '../errors.js';
import type { Policy, RuntimeTenant } from '../policy/compile.js';
import { sha256 } from './sha256.js';

// Stage 2: API key -> tenant. Keys live in the policy as SHA-256 digests; the presented key is hashed and compared
// with every declared digest in constant time (no early exit, no lookup keyed by secret data). A caller with no
// key or an unknown one is the `anonymous` tenant when the policy allows it (`auth.anonymous`: by default loopback
// clients only once keys are declared, so DeepFabric's and the SDKs' dummy keys keep working locally), else 401.

export type Tenant = RuntimeTenant;

export interface Caller {
  /** The Authorization header (`Bearer <key>`), or null. */
  authorization: string | null;
  /** The x-api-key header (Anthropic's clients send the key there), or null. */
  apiKey?: string | null;
  /** The peer's IP address where the runtime knows it (Node); undefined on Workers. */
  remoteAddress?: string | undefined;
}

export function authenticate(policy: Policy, caller: Caller): Tenant {
  const key = presentedKey(caller);
  if (key !== undefined && policy.keys.length > 0) {
    const digest = sha256(new TextEncoder().encode(key));
    let found: Tenant | undefined;
    for (const entry of policy.keys) {
      if (constantTimeEqual(digest, entry.digest) && found === undefined) found = entry.tenant;
    }
    if (found !== undefined) return found;
  }
  if (policy.anonymous === 'any' || (policy.anonymous === 'local' && isLoopback(caller.remoteAddress))) {
    return policy.anonymousTenant;
  }
  throw new HeddleError({
    status: 401,
    type: 'authentication_error',
    code: 'invalid_api_key',
    message:
      key === undefined
        ? 'This gateway needs an API key (Authorization: Bearer <key>).'
        : 'Incorrect API key provided. Keys are issued by the operator of this gateway (see heddle hash-key).',
  });
}

function presentedKey(caller: Caller): string | undefined {
  const auth = caller.authorization?.trim();
  if (auth !== undefined && auth !== '') {
    const m = /^Bearer\s+(.+)$/i.exec(auth);
    const key = (m?.[1] ?? auth).trim();
    if (key !== '') return key;
  }
  const apiKey = caller.apiKey?.trim();
  return apiKey === undefined || apiKey === '' ? undefined : apiKey;
}

/** Compares every byte whatever differs, so the time taken says nothing about where two digests part. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= (a[i] ?? 0) ^ (b[i] ?? 0);
  return diff === 0;
}

/** True for 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.toLowerCase().replace(/^::ffff:/, '');
  return a === '::1' || /^127\.\d+\.\d+\.\d+$/.test(a);
}

/** The policy form of a key: `sha256:<hex>`. Used by `heddle hash-key`. */
export function hashKey(key: string): string {
  const digest = sha256(new TextEncoder().encode(key));
  return `sha256:${[...digest].map((b) => b.toString(16).padStart(2, '0')).join('')}`;
}

/** The peer address from the Node adapter's bindings (`{ incoming: IncomingMessage }`), read structurally. */
export function remoteAddressOf(bindings: unknown): string | undefined {
  if (typeof bindings !== 'object' || bindings === null || !('incoming' in bindings)) return undefined;
  const incoming: unknown = bindings.incoming;
  if (typeof incoming !== 'object' || incoming === null || !('socket' in incoming)) return undefined;
  const socket: unknown = incoming.socket;
  if (typeof socket !== 'object' || socket === null || !('remoteAddress' in socket)) return undefined;
  return typeof socket.remoteAddress === 'string' ? socket.remoteAddress : undefined;
}
