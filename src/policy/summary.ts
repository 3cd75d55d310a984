import { PRIVACY_CLASSES, classRank, type PrivacyClass } from '../privacy/classes.js';
import type { Policy, RuntimeRoute } from './compile.js';

// What `heddle check` prints about a loaded policy: per route, which targets would serve each class (in listed
// order, before the strategy), and warnings for routes that can never serve some class on this runtime.

export interface RouteSummary {
  name: string;
  match: string;
  conditions: string[];
  strategy: string;
  /** Class -> targets that may serve it here (cleared, usable, reachable); empty = that class is refused. */
  serves: Record<PrivacyClass, string[]>;
}

export interface PolicySummary {
  runtime: string;
  targets: { name: string; kind: string; clearance: PrivacyClass; reach: string; usable: string }[];
  routes: RouteSummary[];
  warnings: string[];
}

export function summarizePolicy(policy: Policy): PolicySummary {
  const warnings: string[] = [];
  const routes = policy.routes.map((route): RouteSummary => {
    const serves = Object.fromEntries(
      PRIVACY_CLASSES.map((cls) => [
        cls,
        route.targets.filter((t) => classRank(t.clearance) >= classRank(cls) && t.unusable === undefined).map((t) => t.name),
      ]),
    ) as Record<PrivacyClass, string[]>;
    const unreachable = route.targets.filter((t) => !t.reach.includes(policy.runtime)).map((t) => t.name);
    if (route.targets.every((t) => t.unusable !== undefined)) {
      warnings.push(
        `route '${route.name}' can never be served on ${policy.runtime}: ${route.targets.map((t) => `${t.name} (${t.unusable ?? ''})`).join(', ')}`,
      );
    } else {
      const floor = lowestClass(policy, route);
      const refused = PRIVACY_CLASSES.filter((c) => classRank(c) >= classRank(floor) && serves[c].length === 0);
      if (refused.length > 0) {
        const why = unreachable.length > 0 ? ` (unreachable here: ${unreachable.join(', ')})` : '';
        warnings.push(`route '${route.name}' refuses ${refused.join(', ')} requests on ${policy.runtime}: no cleared target${why}`);
      }
    }
    const conditions: string[] = [];
    if (route.purposes) conditions.push(`purpose ${[...route.purposes].join('|')}`);
    if (route.tenants) conditions.push(`tenant ${[...route.tenants].join('|')}`);
    if (route.classes) conditions.push(`class ${[...route.classes].join('|')}`);
    if (route.privacy) conditions.push(`raises to ${route.privacy}`);
    return { name: route.name, match: route.pattern, conditions, strategy: route.strategy, serves };
  });

  // A route after an unconditional catch-all never matches.
  const catchAll = policy.routes.findIndex((r) => r.pattern.split(', ').includes('*') && !r.purposes && !r.tenants && !r.classes);
  if (catchAll >= 0) {
    for (const r of policy.routes.slice(catchAll + 1)) {
      warnings.push(`route '${r.name}' is never used: route '${policy.routes[catchAll]?.name ?? ''}' before it matches every request`);
    }
  }
  const used = new Set(policy.routes.flatMap((r) => r.targets.map((t) => t.name)));
  for (const name of policy.targets.keys()) if (!used.has(name)) warnings.push(`target '${name}' is in no route`);
  if (policy.runtime === 'workers' && policy.anonymous === 'any') {
    warnings.push('auth.anonymous is any: on Workers anyone who knows the URL can use this gateway (declare tenant keys)');
  }
  const targets = [...policy.targets.values()].map((t) => ({
    name: t.name,
    kind: t.kind,
    clearance: t.clearance,
    reach: t.reach.join('+'),
    usable: t.unusable ?? 'yes',
  }));
  return { runtime: policy.runtime, targets, routes, warnings };
}

/** The lowest class a request on this route can have: the least of the floors that can reach it, raised by its rule. */
function lowestClass(policy: Policy, route: RuntimeRoute): PrivacyClass {
  let floor: PrivacyClass = policy.anonymousTenant.floor;
  for (const t of policy.tenants.values()) if (classRank(t.floor) < classRank(floor)) floor = t.floor;
  if (route.classes) {
    const least = [...route.classes].sort((a, b) => classRank(a) - classRank(b))[0];
    if (least !== undefined && classRank(least) > classRank(floor)) floor = least;
  }
  if (route.privacy && classRank(route.privacy) > classRank(floor)) floor = route.privacy;
  return floor;
}

export function formatSummary(file: string, s: PolicySummary): string {
  const lines = [`${file}: ok (runtime ${s.runtime})`, '  targets:'];
  for (const t of s.targets) {
    lines.push(`    ${t.name.padEnd(14)} ${t.kind.padEnd(18)} clearance ${t.clearance.padEnd(12)} reach ${t.reach.padEnd(13)} ${t.usable === 'yes' ? '' : `UNUSABLE: ${t.usable}`}`.trimEnd());
  }
  lines.push('  routes:');
  for (const r of s.routes) {
    lines.push(`    ${r.name}: model ${r.match}${r.conditions.length > 0 ? `, ${r.conditions.join(', ')}` : ''} (${r.strategy})`);
    for (const cls of ['public', 'internal', 'confidential', 'restricted'] as const) {
      const to = r.serves[cls];
      lines.push(`      ${cls.padEnd(12)} -> ${to.length > 0 ? to.join(', ') : 'none (refused)'}`);
    }
  }
  for (const w of s.warnings) lines.push(`  warning: ${w}`);
  return lines.join('\n');
}
