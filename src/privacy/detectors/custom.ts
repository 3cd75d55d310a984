import { NO_FINDINGS, type Detector, type Finding } from '../finding.js';

/**
 * Detectors built from the policy: regular expressions and keyword lists. They are compiled once when the
 * classifier config is resolved. A policy regex is trusted input (it comes from the operator's policy file, not
 * from requests); a pattern that backtracks badly costs time on every request, so keep them anchored on literals.
 */

/** A regex detector reporting `kind` for every non-empty match. */
export function patternDetector(kind: string, source: string | RegExp, flags = ''): Detector {
  const base = typeof source === 'string' ? new RegExp(source, flags) : source;
  const withGlobal = base.flags.includes('g') ? base.flags : `${base.flags}g`;
  const re = new RegExp(base.source, withGlobal.replace('y', ''));
  return function detectPattern(text: string): readonly Finding[] {
    let out: Finding[] | undefined;
    re.lastIndex = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      if (m[0].length === 0) {
        re.lastIndex++; // an empty match would loop forever and points at nothing
        continue;
      }
      (out ??= []).push({ kind, start: m.index, end: m.index + m[0].length });
    }
    return out ?? NO_FINDINGS;
  };
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * Case-insensitive whole-word keywords. "Whole word" means no letter, digit or underscore (any script) directly
 * before or after, so `atlas` matches "Project Atlas," but not "atlassian". Phrases may contain spaces.
 */
export function keywordDetector(kind: string, words: readonly string[]): Detector {
  const alternatives = words
    .map((w) => w.trim())
    .filter((w) => w.length > 0)
    .sort((a, b) => b.length - a.length) // longest first, so "project atlas" wins over "project"
    .map(escapeRegExp);
  if (alternatives.length === 0) return () => NO_FINDINGS;
  const re = new RegExp(`(?<![\\p{L}\\p{N}_])(?:${alternatives.join('|')})(?![\\p{L}\\p{N}_])`, 'giu');
  return patternDetector(kind, re);
}
