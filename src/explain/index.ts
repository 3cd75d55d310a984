import type { Hono } from 'hono';
import type { HeddleEnv } from '../app.js';
import { remoteAddressOf } from '../auth/index.js';
import type { Deps } from '../deps.js';
import { parseJsonBody, validate } from '../dialects/openai/parse.js';
import { chatRequestSchema, embeddingsRequestSchema } from '../dialects/openai/schema.js';
import { planRequest, type Plan } from '../policy/decide.js';
import type { PrivacyClass } from '../privacy/classes.js';
import type { ClassSources } from '../privacy/stage.js';
import type { TargetDescription } from '../resilience/index.js';
import { cacheEligibility, type CacheEligibility } from '../cache/index.js';

// POST /v1/heddle/explain: the decision for a chat or embeddings body, without calling a target. Shows the class
// and what set it (detector kinds and counts, never the matched values), the route, the candidates in the order
// they would be tried and those removed with the reason. Callers authenticate as for any request, so explain
// reveals nothing of the policy to someone who could not use it.

export const EXPLAIN_PATH = '/v1/heddle/explain';

export interface Explanation {
  object: 'heddle.explain';
  endpoint: 'chat' | 'embeddings';
  model: string;
  policy: string;
  tenant: string;
  purpose: string;
  class: PrivacyClass;
  /** The signals that set the class. */
  signals: string[];
  /** The class each signal asked for (null where absent). */
  sources: ClassSources;
  findings: Readonly<Record<string, number>>;
  route: { name: string; strategy: string; match: string; privacy: PrivacyClass | null } | null;
  /** In the order the strategy would try them, with what the target is cleared for and its live state. */
  candidates: {
    target: string;
    model: string;
    kind: string;
    clearance: PrivacyClass;
    region: string | null;
    /** Cleared only for the request with its redactable values replaced (privacy.redact). */
    redacted: boolean;
    state: TargetDescription;
  }[];
  removed: { target: string; reason: string }[];
  /** What serving it would answer before any target is called: 200, or the refusal. */
  outcome: { status: number; code: string | null; message: string | null };
  /** Whether the answer could come from (and go into) the cache; null when no route matched. */
  cache: CacheEligibility | null;
}

export function mountExplain(app: Hono<HeddleEnv>, deps: Deps): void {
  app.post(EXPLAIN_PATH, async (c) => {
    const body = parseJsonBody(await c.req.text());
    const isEmbeddings = typeof body === 'object' && body !== null && 'input' in body && !('messages' in body);
    const req = isEmbeddings ? validate(embeddingsRequestSchema, body) : validate(chatRequestSchema, body);
    const loaded = deps.policy();
    const plan = planRequest(loaded, req, { headers: c.req.raw.headers, remoteAddress: remoteAddressOf(c.env) });
    const { policy } = loaded;
    return c.json(
      explanation(plan, {
        endpoint: isEmbeddings ? 'embeddings' : 'chat',
        model: req.model,
        policy: policy.source,
        cache: plan.route.route === undefined ? null : cacheEligibility(req, policy.cache, plan.route.route.name),
        state: (name) => deps.resilience.describe(name, policy.resilience),
      }),
    );
  });
}

export interface ExplainContext {
  endpoint: 'chat' | 'embeddings';
  model: string;
  policy: string;
  cache: CacheEligibility | null;
  state: (target: string) => TargetDescription;
}

export function explanation(plan: Plan, { endpoint, model, policy, cache, state }: ExplainContext): Explanation {
  const { route, candidates, removed, error } = plan.route;
  return {
    object: 'heddle.explain',
    endpoint,
    model,
    policy,
    tenant: plan.tenant.name,
    purpose: plan.purpose,
    class: plan.privacy.class,
    signals: plan.privacy.signals,
    sources: plan.privacy.sources,
    findings: plan.privacy.findings,
    route: route === undefined ? null : { name: route.name, strategy: route.strategy, match: route.pattern, privacy: route.privacy ?? null },
    candidates: candidates.map((c) => ({
      target: c.target.name,
      model: c.model,
      kind: c.target.kind,
      clearance: c.target.clearance,
      region: c.target.region ?? null,
      redacted: c.redacted === true,
      state: state(c.target.name),
    })),
    removed,
    outcome: error === undefined ? { status: 200, code: null, message: null } : { status: error.status, code: error.code, message: error.message },
    cache,
  };
}
