/**
 * What a detector reports: the kind of thing found and where. Offsets only, never the matched text, so a
 * finding can be logged or counted without leaking what it points at.
 */
export interface Finding {
  readonly kind: string;
  readonly start: number;
  readonly end: number;
}

/** A detector is a pure function over one text. It may throw; the classifier treats that as restricted. */
export type Detector = (text: string) => readonly Finding[];

/** Shared result for the common case, so a clean text allocates nothing. */
export const NO_FINDINGS: readonly Finding[] = Object.freeze([]);
