/** Privacy classes, least to most sensitive. A request's class is the maximum of everything that applies. */
export const PRIVACY_CLASSES = ['public', 'internal', 'confidential', 'restricted'] as const;

export type PrivacyClass = (typeof PRIVACY_CLASSES)[number];

const RANK: Readonly<Record<PrivacyClass, number>> = { public: 0, internal: 1, confidential: 2, restricted: 3 };

export function isPrivacyClass(value: unknown): value is PrivacyClass {
  return typeof value === 'string' && Object.hasOwn(RANK, value);
}

/** 0 for public up to 3 for restricted. */
export function classRank(c: PrivacyClass): number {
  return RANK[c];
}

/** The most sensitive of the given classes; `public` when none are given. */
export function maxClass(...classes: readonly PrivacyClass[]): PrivacyClass {
  let best: PrivacyClass = 'public';
  for (const c of classes) if (RANK[c] > RANK[best]) best = c;
  return best;
}

/** True when `c` is at least as sensitive as `floor` (e.g. a target's clearance covers a request's class). */
export function atLeast(c: PrivacyClass, floor: PrivacyClass): boolean {
  return RANK[c] >= RANK[floor];
}
