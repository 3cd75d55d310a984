import { HeddleError, notFound } from '../errors.js';
import type { Policy, RuntimeRoute, RuntimeTarget } from '../policy/compile.js';
import { classRank, type PrivacyClass } from '../privacy/classes.js';

// Stage 4: model alias + class -> ordered candidates. Targets below the request's class are removed BEFORE any
// strategy runs, so no fallback can reach them; an empty list fails closed with the reason.

export interface Candidate {
  target: RuntimeTarget;
  /** Model id on that target. */
  model: string;
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

export function matchRoute(policy: Policy, model: string): RuntimeRoute {
  const route = policy.routes.find((r) => r.matches(model));
  if (route === undefined) {
    throw notFound(
      `The model '${model}' does not exist on this gateway. Available: ${policy.exposedModels.join(', ') || '(none)'}.`,
      'model',
      'model_not_found',
    );
  }
  return route;
}

export function routeRequest(policy: Policy, model: string, privacyClass: PrivacyClass): RouteDecision {
  const route = matchRoute(policy, model);
  const candidates: Candidate[] = [];
  const removed: RemovedCandidate[] = [];
  for (const target of route.targets) {
    if (classRank(target.clearance) < classRank(privacyClass)) {
      removed.push({ target: target.name, reason: `clearance ${target.clearance} is below class ${privacyClass}` });
    } else if (target.unusable !== undefined) {
      removed.push({ target: target.name, reason: target.unusable });
    } else {
      candidates.push({ target, model: policy.models.get(model)?.get(target.name) ?? model });
    }
  }
  if (candidates.length === 0) {
    const cleared = removed.every((r) => !r.reason.startsWith('clearance'));
    throw new HeddleError({
      status: cleared ? 503 : 403,
      type: cleared ? 'service_unavailable' : 'permission_error',
      code: cleared ? 'no_usable_target' : 'privacy_no_cleared_target',
      message: `No target of route '${route.name}' may serve this request: ${removed
        .map((r) => `${r.target} (${r.reason})`)
        .join('; ')}.`,
      ...(cleared ? { retryAfter: 30 } : {}),
    });
  }
  return { route, candidates, removed };
}
