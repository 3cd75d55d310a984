import type { Tenant } from '../auth/index.js';
import { HeddleError, invalidRequest, notFound } from '../errors.js';
import type { Policy, RuntimeRoute, RuntimeTarget } from '../policy/compile.js';
import { classRank, maxClass, type PrivacyClass } from '../privacy/classes.js';
import { orderCandidates, type StrategyOptions } from './strategy.js';

// Stage 4: model alias + purpose + tenant + class -> a route and its ordered candidates. Targets below the
// request's class are removed BEFORE any strategy runs, so no fallback can reach them; an empty list fails closed
// with the reason, never to a weaker target.

export interface Candidate {
  target: RuntimeTarget;
  /** Model id on that target. */
  model: string;
  /** Cleared only for the redacted request: the attempt sends placeholders and restores the answer. */
  redacted?: boolean;
}

export interface RemovedCandidate {
  target: string;
  reason: string;
}

export interface RouteDecision {
  route: RuntimeRoute;
  candidates: Candidate[];
  removed: RemovedCandidate[];
}

/** The request fields route rules look at (chat or embeddings). */
export interface RoutedRequest {
  model: string;
  max_tokens?: number | null | undefined;
  max_completion_tokens?: number | null | undefined;
  tools?: ReadonlyArray<{ function?: { name?: string } | null }> | null | undefined;
}

export interface RouteQuery {
  request: RoutedRequest;
  purpose: string;
  tenant: Tenant;
  /** The class before the route's own rule. */
  class: PrivacyClass;
  /** The class the request would have with its redactable values replaced; absent when nothing is redactable. */
  redactedClass?: PrivacyClass | undefined;
}

/** Everything routing decided, also when it refused: explain shows this; the spine throws `error`. */
export interface RoutePlan {
  route: RuntimeRoute | undefined;
  /** max(query class, route rule). */
  class: PrivacyClass;
  candidates: Candidate[];
  removed: RemovedCandidate[];
  error: HeddleError | undefined;
}

export function planRoute(policy: Policy, query: RouteQuery, options: StrategyOptions = {}): RoutePlan {
  const { request, tenant } = query;
  let route: RuntimeRoute | undefined;
  let forbidden: RuntimeRoute | undefined;
  for (const r of policy.routes) {
    if (!r.matchesModel(request.model)) continue;
    if (r.purposes !== undefined && !r.purposes.has(query.purpose)) continue;
    if (r.tenants !== undefined && !r.tenants.has(tenant.name)) continue;
    if (r.classes !== undefined && !r.classes.has(query.class)) continue;
    if (tenant.routes !== undefined && !tenant.routes.has(r.name)) {
      forbidden ??= r;
      continue;
    }
    route = r;
    break;
  }
  const refused = (error: HeddleError, cls = query.class): RoutePlan => ({ route, class: cls, candidates: [], removed: [], error });
  if (route === undefined) {
    if (forbidden !== undefined) {
      return refused(
        new HeddleError({
          status: 403,
          type: 'permission_error',
          code: 'route_not_allowed',
          param: 'model',
          message: `Tenant '${tenant.name}' may not use route '${forbidden.name}' (model '${request.model}').`,
        }),
      );
    }
    return refused(
      notFound(
        `The model '${request.model}' does not exist on this gateway${query.purpose === 'generation' ? '' : ` for purpose '${query.purpose}'`}. Available: ${policy.exposedModels.join(', ') || '(none)'}.`,
        'model',
        'model_not_found',
      ),
    );
  }

  const cls = route.privacy === undefined ? query.class : maxClass(query.class, route.privacy);
  const paramError = checkParams(route, request);
  if (paramError !== undefined) return refused(paramError, cls);

  // A target below the class may still serve the redacted request if it is cleared for what redaction leaves.
  const redactedCls =
    query.redactedClass === undefined ? undefined : route.privacy === undefined ? query.redactedClass : maxClass(query.redactedClass, route.privacy);
  const kept: Candidate[] = [];
  const removed: RemovedCandidate[] = [];
  for (const target of route.targets) {
    const cleared = classRank(target.clearance) >= classRank(cls);
    const clearedRedacted = !cleared && redactedCls !== undefined && classRank(target.clearance) >= classRank(redactedCls);
    if (!cleared && !clearedRedacted) {
      removed.push({ target: target.name, reason: `clearance ${target.clearance} is below class ${cls}` });
    } else if (target.unusable !== undefined) {
      removed.push({ target: target.name, reason: target.unusable });
    } else {
      const model = policy.models.get(request.model)?.get(target.name) ?? request.model;
      kept.push(clearedRedacted ? { target, model, redacted: true } : { target, model });
    }
  }
  if (kept.length === 0) {
    const cleared = removed.every((r) => !r.reason.startsWith('clearance'));
    const error = new HeddleError({
      status: cleared ? 503 : 403,
      type: cleared ? 'service_unavailable' : 'permission_error',
      code: cleared ? 'no_usable_target' : 'privacy_no_cleared_target',
      message: `No target of route '${route.name}' may serve this request (class ${cls}): ${removed
        .map((r) => `${r.target} (${r.reason})`)
        .join('; ')}.`,
      ...(cleared ? { retryAfter: 30 } : {}),
    });
    return { route, class: cls, candidates: [], removed, error };
  }
  return { route, class: cls, candidates: orderCandidates(route.strategy, kept, options), removed, error: undefined };
}

/** The plan as the spine needs it: a route with at least one candidate, or the refusal thrown. */
export function routeRequest(policy: Policy, query: RouteQuery, options: StrategyOptions = {}): RouteDecision & { class: PrivacyClass } {
  const plan = planRoute(policy, query, options);
  if (plan.error !== undefined || plan.route === undefined) throw plan.error ?? new Error('route plan without a route');
  return { route: plan.route, candidates: plan.candidates, removed: plan.removed, class: plan.class };
}

/** The matched route for a model alone (any purpose, tenant and class), e.g. for listing. */
export function matchRoute(policy: Policy, model: string): RuntimeRoute | undefined {
  return policy.routes.find((r) => r.matchesModel(model));
}

function checkParams(route: RuntimeRoute, request: RoutedRequest): HeddleError | undefined {
  const cap = route.params.maxTokens;
  if (cap !== undefined) {
    for (const field of ['max_tokens', 'max_completion_tokens'] as const) {
      const asked = request[field];
      if (typeof asked === 'number' && asked > cap) {
        return invalidRequest(`${field} ${asked} is over the cap of route '${route.name}' (${cap}).`, field, 'route_param_cap');
      }
    }
  }
  const allowed = route.params.tools;
  if (allowed !== undefined) {
    for (const tool of request.tools ?? []) {
      const name = tool.function?.name ?? '';
      if (!allowed.has(name)) {
        return new HeddleError({
          status: 403,
          type: 'permission_error',
          code: 'tool_not_allowed',
          param: 'tools',
          message: `Tool '${name}' is not allowed on route '${route.name}'${allowed.size > 0 ? ` (allowed: ${[...allowed].join(', ')})` : ''}.`,
        });
      }
    }
  }
  return undefined;
}
