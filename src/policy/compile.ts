import type { Target, TargetKind } from '../providers/types.js';
import { compileCache, type CacheSettings } from '../cache/config.js';
import { compileResilience, type ResilienceConfig } from '../resilience/config.js';
import type { PolicyFile, PrivacyClass, Runtime, Strategy } from './schema.js';

// The immutable runtime form of a policy: defaults settled, names resolved to objects, globs compiled.
// Built once per load; the request path only reads it.

export interface RuntimeTarget extends Target {
  clearance: PrivacyClass;
  weight: number;
  region: string | undefined;
  reach: readonly Runtime[];
  maxConcurrent: number | undefined;
  /** Why this target cannot serve requests (e.g. its API key is not set); undefined when usable. */
  unusable: string | undefined;
}

export interface RouteParams {
  maxTokens: number | undefined;
  /** Allowed tool names; undefined allows any. */
  tools: ReadonlySet<string> | undefined;
}

export interface RuntimeRoute {
  name: string;
  /** The model globs, as written (for messages and explain). */
  pattern: string;
  strategy: Strategy;
  targets: readonly RuntimeTarget[];
  /** The class every request on this route has at least; undefined when the route sets none. */
  privacy: PrivacyClass | undefined;
  params: RouteParams;
  matchesModel(model: string): boolean;
  /** Undefined sets match anything. */
  purposes: ReadonlySet<string> | undefined;
  tenants: ReadonlySet<string> | undefined;
  classes: ReadonlySet<PrivacyClass> | undefined;
}

export interface RuntimeTenant {
  name: string;
  floor: PrivacyClass;
  /** Route names this tenant may use; undefined allows all. */
  routes: ReadonlySet<string> | undefined;
  purpose: string | undefined;
}

export interface Policy {
  readonly source: string;
  readonly runtime: Runtime;
  readonly targets: ReadonlyMap<string, RuntimeTarget>;
  readonly routes: readonly RuntimeRoute[];
  /** Alias -> target name -> model id. */
  readonly models: ReadonlyMap<string, ReadonlyMap<string, string>>;
  /** What GET /v1/models lists: aliases and literal route patterns. */
  readonly exposedModels: readonly string[];
  readonly privacyDefault: PrivacyClass;
  /** Finding kinds that may be redacted for a target cleared for less (privacy.redact). */
  readonly redactKinds: ReadonlySet<string>;
  readonly tenants: ReadonlyMap<string, RuntimeTenant>;
  /** SHA-256 digests of the declared API keys, each with its tenant. */
  readonly keys: ReadonlyArray<{ digest: Uint8Array; tenant: RuntimeTenant }>;
  readonly anonymousTenant: RuntimeTenant;
  /** Who may call without a known key. */
  readonly anonymous: 'local' | 'any' | 'none';
  readonly maxBodyBytes: number;
  readonly timeouts: { firstByte: number; idle: number; total: number };
  /** Retries, budget, breakers, health probes and per-route/target timeouts, resolved. */
  readonly resilience: ResilienceConfig;
  /** The response cache's mode, TTL and bounds (src/cache/config.ts). */
  readonly cache: CacheSettings;
}

const DEFAULT_URL: Record<TargetKind, string | undefined> = {
  fastllm: 'http://127.0.0.1:8000',
  ollama: 'http://127.0.0.1:11434',
  openai: 'https://api.openai.com/v1',
  openrouter: 'https://openrouter.ai/api/v1',
  together: 'https://api.together.xyz/v1',
  'openai-compatible': undefined,
  anthropic: 'https://api.anthropic.com',
  gemini: 'https://generativelanguage.googleapis.com',
};

const NEEDS_KEY: ReadonlySet<TargetKind> = new Set(['openai', 'openrouter', 'together', 'anthropic', 'gemini']);

export function compilePolicy(file: PolicyFile, source: string, runtime: Runtime = 'node'): Policy {
  const targets = new Map<string, RuntimeTarget>();
  for (const [name, t] of Object.entries(file.targets)) {
    const apiKey = t.api_key === undefined || t.api_key === '' ? undefined : t.api_key;
    const url = (t.url ?? DEFAULT_URL[t.kind] ?? '').replace(/\/+$/, '');
    const reach = Object.freeze([...(t.reach ?? defaultReach(url))]);
    let unusable: string | undefined;
    if (!reach.includes(runtime)) unusable = `not reachable from ${runtime} (reach: ${reach.join(', ')})`;
    else if (NEEDS_KEY.has(t.kind) && apiKey === undefined) unusable = 'no API key configured';
    targets.set(name, {
      name,
      kind: t.kind,
      url,
      apiKey,
      headers: Object.freeze({ ...t.headers }),
      clearance: t.clearance,
      weight: t.weight,
      region: t.region,
      reach,
      maxConcurrent: t.limits?.max_concurrent,
      structuredOutput: t.structured_output,
      unusable,
    });
  }

  const routes = file.routes.map((r, i): RuntimeRoute => {
    const globs = list(r.match.model);
    const regexes = globs.map(globToRegExp);
    const tools = r.params?.tools;
    return {
      name: r.name ?? `route-${i + 1}`,
      pattern: globs.join(', '),
      strategy: r.strategy,
      targets: r.targets.map((n) => targets.get(n)).filter((t): t is RuntimeTarget => t !== undefined),
      privacy: r.privacy,
      params: { maxTokens: r.params?.max_tokens, tools: tools === undefined ? undefined : new Set(tools) },
      matchesModel: (model) => regexes.some((re) => re.test(model)),
      purposes: setOf(r.match.purpose),
      tenants: setOf(r.match.tenant),
      classes: setOf(r.match.class),
    };
  });

  const models = new Map<string, ReadonlyMap<string, string>>(
    Object.entries(file.models).map(([alias, perTarget]) => [alias, new Map(Object.entries(perTarget))]),
  );
  const literalPatterns = file.routes.flatMap((r) => list(r.match.model)).filter((p) => !p.includes('*'));
  const exposedModels = [...new Set([...models.keys(), ...literalPatterns])];

  const tenants = new Map<string, RuntimeTenant>();
  const keys: { digest: Uint8Array; tenant: RuntimeTenant }[] = [];
  for (const [name, t] of Object.entries(file.tenants)) {
    const tenant: RuntimeTenant = {
      name,
      floor: t.floor ?? file.privacy.default,
      routes: t.routes === undefined ? undefined : new Set(t.routes),
      purpose: t.purpose,
    };
    tenants.set(name, tenant);
    for (const k of t.keys) keys.push({ digest: hexToBytes(k.slice('sha256:'.length)), tenant });
  }
  const anonymousTenant: RuntimeTenant = { name: 'anonymous', floor: file.privacy.default, routes: undefined, purpose: undefined };

  const resilience = compileResilience(file.resilience);
  return {
    source,
    runtime,
    targets,
    routes,
    models,
    exposedModels,
    privacyDefault: file.privacy.default,
    redactKinds: new Set(file.privacy.redact),
    tenants,
    keys,
    anonymousTenant,
    anonymous: file.auth.anonymous ?? (keys.length > 0 ? 'local' : 'any'),
    maxBodyBytes: file.limits.max_body_bytes,
    timeouts: resilience.defaults,
    resilience,
    cache: compileCache(file.cache),
  };
}

function list<T>(value: T | readonly T[]): T[] {
  return ([] as T[]).concat(value);
}

function setOf<T>(value: T | readonly T[] | undefined): ReadonlySet<T> | undefined {
  return value === undefined ? undefined : new Set(list(value));
}

function globToRegExp(glob: string): RegExp {
  const escaped = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${escaped}$`);
}

function hexToBytes(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * Loopback, private (RFC 1918, link-local, ULA), `.local`/`.internal` and single-label hosts are reachable only
 * from a machine on that network, so only from the Node gateway; anything else from both runtimes.
 */
export function defaultReach(url: string): Runtime[] {
  let host: string;
  try {
    host = new URL(url).hostname.toLowerCase().replace(/^\[|\]$/g, '');
  } catch {
    return ['node'];
  }
  return isPrivateHost(host) ? ['node'] : ['node', 'workers'];
}

export function isPrivateHost(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.local') || host.endsWith('.internal')) return true;
  if (host.includes(':')) return host === '::1' || /^f[cd][0-9a-f]{0,2}:/.test(host) || host.startsWith('fe80:') || /^::ffff:(127|10|192\.168)\./.test(host);
  const v4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(host);
  if (v4) {
    const a = Number(v4[1]);
    const b = Number(v4[2]);
    return a === 127 || a === 10 || a === 0 || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 169 && b === 254);
  }
  return !host.includes('.') && !host.includes(':');
}
