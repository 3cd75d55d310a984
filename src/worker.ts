import bundledPolicyText from '../policies/default.yaml';
import { createApp } from './app.js';
import { CacheApiStore, ResponseCache } from './cache/index.js';
import type { Deps, LoadedPolicy } from './deps.js';
import { HeddleError } from './errors.js';
import { loadPolicy, PolicyError } from './policy/index.js';
import { fetchHttpSend } from './providers/http.js';
import { Resilience } from './resilience/index.js';
import { SharedBreakers, type BoardStub } from './resilience/shared.js';

// Cloudflare Workers entry. The policy is, in order of precedence: the text at key `policy.yaml` in the KV
// namespace bound as HEDDLE_POLICY_KV (re-read at most every 30 s), the HEDDLE_POLICY_YAML var or secret, or
// policies/default.yaml bundled at build time. `${VAR}` in it is read from the Worker's string bindings (vars
// and secrets). State (policy, circuit breakers, caches) lives per isolate; there is no /metrics here.

/** The slice of a KV namespace this entry uses (kept structural: the gateway compiles against DOM types). */
interface PolicyKv {
  get(key: string, type: 'text'): Promise<string | null>;
}

/** The slice of a Durable Object namespace binding this entry uses. */
interface BreakersNamespace {
  idFromName(name: string): unknown;
  get(id: unknown): BoardStub;
}

export interface WorkerEnv {
  HEDDLE_POLICY_YAML?: string;
  HEDDLE_POLICY_KV?: PolicyKv;
  /** Optional: breaker openings shared by all isolates through the HeddleBreakers Durable Object. */
  HEDDLE_BREAKERS?: BreakersNamespace;
  /** Vars and secrets, read by `${VAR}` in the policy. */
  [binding: string]: unknown;
}

// Only `default` and the Durable Object class are exported: workerd treats every named export of the main module
// as an entrypoint.
export { HeddleBreakers } from './resilience/durable.js';
const POLICY_KV_KEY = 'policy.yaml';
const KV_REFRESH_MS = 30_000;

interface PolicySource {
  text: string;
  file: string;
}

/** One isolate's policy: the last good load, or the problems that prevented one. */
interface PolicyState {
  source: PolicySource | undefined;
  loaded: LoadedPolicy | undefined;
  problems: string[];
  kvReadAt: number;
}

const state: PolicyState = { source: undefined, loaded: undefined, problems: [], kvReadAt: -Infinity };

function log(level: 'info' | 'warn' | 'error', message: string, fields?: Record<string, unknown>): void {
  const line = JSON.stringify({ level, message, ...fields });
  if (level === 'error') console.error(line);
  else if (level === 'warn') console.warn(line);
  else console.log(line);
}

const http = fetchHttpSend(fetch);
const deps: Deps = {
  policy: () => {
    // fetch() answers 503 before the app runs when no policy ever loaded.
    if (state.loaded === undefined) throw new Error('policy read before it was loaded');
    return state.loaded;
  },
  http,
  now: () => performance.now(),
  audit: (record) => console.log(JSON.stringify(record)),
  log,
  newId: () => crypto.randomUUID(),
  // Per isolate, passive only (no timers outside a request): breakers and stats from real traffic.
  resilience: new Resilience({ http, now: () => performance.now() }),
};

const app = createApp(deps);

/**
 * The response cache: an isolate L1 (at most 16 MB) over the data center's Cache API, written before an answer
 * ends (I/O left running after a response is cancelled). Keys are HMAC'd with the
 * HEDDLE_CACHE_SECRET secret; without it each isolate has its own random secret and shares no L2 entries.
 */
function isolateCache(env: WorkerEnv): ResponseCache {
  const secret = typeof env.HEDDLE_CACHE_SECRET === 'string' ? env.HEDDLE_CACHE_SECRET : undefined;
  const persistent = typeof caches === 'undefined' ? undefined : new CacheApiStore(caches);
  return new ResponseCache({ secret, persistent, memoryBytes: 16 * 1024 ** 2, memoryCap: 16 * 1024 ** 2, awaitPersist: true, log });
}

let sharedBreakers: SharedBreakers | undefined;

/** With HEDDLE_BREAKERS bound: report this isolate's breaker transitions and pull the others' (after the answer). */
function syncBreakers(env: WorkerEnv): Promise<void> | undefined {
  const ns = env.HEDDLE_BREAKERS;
  if (ns === undefined) return undefined;
  if (sharedBreakers === undefined) {
    sharedBreakers = new SharedBreakers(ns.get(ns.idFromName('breakers')));
    deps.resilience.share(sharedBreakers);
  }
  const loaded = state.loaded;
  if (loaded === undefined) return undefined;
  return sharedBreakers
    .sync(Date.now(), (openings) => deps.resilience.applyShared(openings, loaded.policy.resilience))
    .catch((err: unknown) => log('warn', 'breaker board sync failed', { error: String(err) }));
}

function stringBindings(env: WorkerEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(env)) if (typeof value === 'string') out[name] = value;
  return out;
}

async function currentSource(env: WorkerEnv): Promise<PolicySource> {
  const kv = env.HEDDLE_POLICY_KV;
  if (kv !== undefined) {
    const now = Date.now();
    if (state.source !== undefined && now - state.kvReadAt < KV_REFRESH_MS) return state.source;
    state.kvReadAt = now;
    try {
      const text = await kv.get(POLICY_KV_KEY, 'text');
      if (text !== null) return { text, file: `kv:HEDDLE_POLICY_KV/${POLICY_KV_KEY}` };
    } catch (err) {
      log('warn', 'policy KV read failed; keeping the current policy', { error: String(err) });
      if (state.source !== undefined) return state.source;
    }
  }
  const override = env.HEDDLE_POLICY_YAML;
  if (typeof override === 'string' && override.trim() !== '') return { text: override, file: 'HEDDLE_POLICY_YAML' };
  return { text: bundledPolicyText, file: 'policies/default.yaml' };
}

/** Loads the policy when its text changed; a broken edit keeps the last good policy. */
async function ensurePolicy(env: WorkerEnv): Promise<void> {
  const source = await currentSource(env);
  if (state.source !== undefined && state.source.text === source.text && state.source.file === source.file) return;
  state.source = source;
  try {
    state.loaded = loadPolicy(source.text, source.file, stringBindings(env), { runtime: 'workers' });
    state.problems = [];
  } catch (err) {
    const problems = err instanceof PolicyError ? err.problems : [`${source.file}: ${String(err)}`];
    if (state.loaded === undefined) state.problems = problems;
    log(state.loaded === undefined ? 'error' : 'warn', 'policy rejected', {
      policy: source.file,
      problems,
      keeping: state.loaded === undefined ? null : state.loaded.policy.source,
    });
  }
}

function policyUnavailable(problems: string[]): Response {
  const error = new HeddleError({
    status: 503,
    type: 'service_unavailable',
    code: 'policy_invalid',
    message: `Heddle has no valid policy:\n${problems.map((p) => `  ${p}`).join('\n')}`,
  });
  return new Response(JSON.stringify(error.toJSON()), {
    status: error.status,
    headers: { 'content-type': 'application/json' },
  });
}

export default {
  async fetch(request: Request, env: WorkerEnv, ctx?: { waitUntil(promise: Promise<unknown>): void }): Promise<Response> {
    await ensurePolicy(env);
    if (state.loaded === undefined) return policyUnavailable(state.problems);
    deps.cache ??= isolateCache(env);
    const response = await app.fetch(request);
    const sync = syncBreakers(env);
    if (sync !== undefined) {
      if (ctx !== undefined) ctx.waitUntil(sync);
      else await sync;
    }
    return response;
  },
};
