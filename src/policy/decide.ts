import { authenticate, type Tenant } from '../auth/index.js';
import type { LoadedPolicy } from '../deps.js';
import type { ChatRequest, EmbeddingsRequest } from '../dialects/openai/schema.js';
import { invalidRequest, HeddleError } from '../errors.js';
import { classRank, maxClass, type PrivacyClass } from '../privacy/classes.js';
import { redactRequest } from '../privacy/redact.js';
import { classifyRequest, PRIVACY_HEADER, withRouteRule, type ClassDecision } from '../privacy/stage.js';
import { planRoute, type RouteDecision, type RoutePlan } from '../routing/route.js';
import type { StrategyOptions } from '../routing/strategy.js';

// Stages 2-4 as one decision: auth -> purpose -> classify -> route (-> the route's class rule). The spine serves
// the decision; POST /v1/heddle/explain shows the same plan without calling a target.

export const PURPOSE_HEADER = 'x-heddle-purpose';
export const DEFAULT_PURPOSE = 'generation';

export interface DecisionInput {
  headers: Pick<Headers, 'get'>;
  /** The peer address where the runtime knows it (Node). */
  remoteAddress?: string | undefined;
}

export interface Plan {
  tenant: Tenant;
  purpose: string;
  privacy: ClassDecision;
  route: RoutePlan;
}

export interface PolicyDecision {
  tenant: Tenant;
  purpose: string;
  privacy: ClassDecision;
  route: RouteDecision;
}

/** The whole plan, also when routing refuses (explain reports it); an unauthenticated caller still gets 401. */
export function planRequest(
  loaded: LoadedPolicy,
  req: ChatRequest | EmbeddingsRequest,
  input: DecisionInput,
  options: StrategyOptions = {},
): Plan {
  const { policy } = loaded;
  const tenant = authenticate(policy, {
    authorization: input.headers.get('authorization'),
    apiKey: input.headers.get('x-api-key'),
    remoteAddress: input.remoteAddress,
  });
  const purpose = resolvePurpose(tenant, input.headers.get(PURPOSE_HEADER));
  const content = classifyRequest(req, tenant, input.headers.get(PRIVACY_HEADER), loaded.detectors);
  const redactedClass = classAfterRedaction(loaded, req, content);
  const route = planRoute(policy, { request: req, purpose, tenant, class: content.class, redactedClass }, options);
  return { tenant, purpose, privacy: withRouteRule(content, route.route?.privacy), route };
}

/** The decision the spine serves: a route with at least one cleared candidate, or the refusal thrown. */
export function decideRequest(
  loaded: LoadedPolicy,
  req: ChatRequest | EmbeddingsRequest,
  input: DecisionInput,
  options: StrategyOptions = {},
): PolicyDecision {
  const plan = planRequest(loaded, req, input, options);
  const { route, candidates, removed, error } = plan.route;
  if (error !== undefined) throw error;
  if (route === undefined) throw new HeddleError({ status: 500, type: 'api_error', message: 'Internal error in Heddle (this is a bug).' });
  return { tenant: plan.tenant, purpose: plan.purpose, privacy: plan.privacy, route: { route, candidates, removed } };
}

/**
 * The class the request would have with the policy's redactable values replaced (tenant floor and header still
 * count); undefined when redaction is off or would change nothing.
 */
function classAfterRedaction(loaded: LoadedPolicy, req: ChatRequest | EmbeddingsRequest, content: ClassDecision): PrivacyClass | undefined {
  const kinds = loaded.policy.redactKinds;
  if (kinds.size === 0 || !Object.keys(content.findings).some((k) => kinds.has(k))) return undefined;
  const { remaining } = redactRequest(req, loaded.detectors, kinds);
  const floors = [content.sources.tenant, content.sources.header].filter((c): c is PrivacyClass => c !== null);
  const cls = maxClass(remaining.class, ...floors);
  return classRank(cls) < classRank(content.class) ? cls : undefined;
}

function resolvePurpose(tenant: Tenant, header: string | null): string {
  const asked = header?.trim();
  if (asked !== undefined && asked !== '' && !/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(asked)) {
    throw invalidRequest(`Header ${PURPOSE_HEADER} must be a name such as generation or evaluation.`, PURPOSE_HEADER);
  }
  if (tenant.purpose !== undefined) {
    if (asked !== undefined && asked !== '' && asked !== tenant.purpose) {
      throw new HeddleError({
        status: 403,
        type: 'permission_error',
        code: 'purpose_not_allowed',
        param: PURPOSE_HEADER,
        message: `Tenant '${tenant.name}' is for purpose '${tenant.purpose}', not '${asked}'.`,
      });
    }
    return tenant.purpose;
  }
  return asked === undefined || asked === '' ? DEFAULT_PURPOSE : asked;
}
