import type { ChatRequest, EmbeddingsRequest } from '../dialects/openai/schema.js';
import { invalidRequest } from '../errors.js';
import type { Tenant } from '../auth/index.js';
import { isPrivacyClass, maxClass, type PrivacyClass } from './classes.js';
import { classifyTexts, collectRequestTexts } from './classify.js';
import type { ClassifierConfig } from './config.js';

// Stage 3: the request's privacy class = max(tenant floor, trusted header (may only raise), route rule, detectors).
// The route rule is applied after routing (`withRouteRule`), as the route is chosen by the class before it.

export const PRIVACY_HEADER = 'x-heddle-privacy';

/** The class each signal asked for; null where the signal is absent. */
export interface ClassSources {
  tenant: PrivacyClass;
  header: PrivacyClass | null;
  route: PrivacyClass | null;
  /** `public` when no detector found anything. */
  detectors: PrivacyClass;
}

export interface ClassDecision {
  class: PrivacyClass;
  /** The signals that set the class (those asking for exactly it): 'tenant', 'header', 'route', 'detectors'. */
  signals: string[];
  /** Detector finding kinds with counts; never the matched values. */
  findings: Readonly<Record<string, number>>;
  sources: ClassSources;
}

export function classifyRequest(
  req: ChatRequest | EmbeddingsRequest,
  tenant: Tenant,
  header: string | null,
  detectors: ClassifierConfig,
): ClassDecision {
  let headerClass: PrivacyClass | null = null;
  if (header !== null) {
    const value = header.trim().toLowerCase();
    if (!isPrivacyClass(value)) {
      throw invalidRequest(
        `Header ${PRIVACY_HEADER} must be one of public, internal, confidential, restricted (got '${header.slice(0, 40)}').`,
        PRIVACY_HEADER,
      );
    }
    headerClass = value;
  }
  const content = classifyTexts(collectRequestTexts(req), detectors);
  return decided(
    { tenant: tenant.floor, header: headerClass, route: null, detectors: content.class },
    content.findings,
  );
}

/** Raises the decision to the matched route's rule (a route can only raise a class). */
export function withRouteRule(decision: ClassDecision, routeClass: PrivacyClass | undefined): ClassDecision {
  if (routeClass === undefined) return decision;
  return decided({ ...decision.sources, route: routeClass }, decision.findings);
}

function decided(sources: ClassSources, findings: Readonly<Record<string, number>>): ClassDecision {
  const present: [string, PrivacyClass | null][] = [
    ['tenant', sources.tenant],
    ['header', sources.header],
    ['route', sources.route],
    ['detectors', Object.keys(findings).length > 0 ? sources.detectors : null],
  ];
  const cls = maxClass(...present.map(([, c]) => c).filter((c): c is PrivacyClass => c !== null));
  const signals = present.filter(([, c]) => c === cls).map(([name]) => name);
  return { class: cls, signals, findings, sources };
}
