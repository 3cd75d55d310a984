import { NO_FINDINGS, type Finding } from '../finding.js';

/**
 * Phone numbers, in three shapes only, each needing a `+` or separators so that plain numbers, versions (1.2.3.4),
 * dates (2024-01-15), IP addresses, UUIDs and ids are not flagged:
 *  - international: `+` then 8-15 digits (E.164), with optional single separators and a parenthesised area code:
 *    +14155552671, +44 20 7946 0958, +1 (415) 555-2671;
 *  - North American: (415) 555-2671, 415-555-2671, 415.555.2671, 415 555 2671, 1-800-555-0199 (area and exchange
 *    start with 2-9; one separator kind throughout);
 *  - trunk-prefixed national: 020 7946 0958, 07700 900123, 030 12345678, 01 23 45 67 89 (leading 0, one separator
 *    kind, 10-12 digits).
 * Ten plain digits like 4155552671 are not flagged: without `+` or separators they look like any other id.
 */
const PHONE = new RegExp(
  [
    '(?<![\\w+.\\/:#=-])', // not inside a larger token, version, path or assignment
    '(?:',
    '(\\+\\d(?:[ .-]?(?:\\d|\\(\\d{1,4}\\)))+)', // 1: international
    '|((?:1([ .-]))?\\([2-9]\\d{2}\\) ?[2-9]\\d{2}[ .-]\\d{4})', // 2: NANP with (area)
    '|((?:1([ .-]))?[2-9]\\d{2}([ .-])[2-9]\\d{2}\\6\\d{4})', // 4: NANP separated
    '|(0\\d{1,4}([ .-])\\d{2,8}(?:\\8\\d{2,8}){0,3})', // 7: trunk-prefixed national
    ')',
    '(?![\\w]|[.\\/:-]\\d)',
  ].join(''),
  'g',
);

function countDigits(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 48 && c <= 57) n++;
  }
  return n;
}

export function detectPhones(text: string): readonly Finding[] {
  let out: Finding[] | undefined;
  PHONE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = PHONE.exec(text)) !== null) {
    const found = m[0];
    if (m[1] !== undefined) {
      const n = countDigits(found);
      if (n < 8 || n > 15) continue;
    } else if (m[4] !== undefined) {
      // a leading "1-" must use the same separator as the rest (1-800-555-0199, not 1 800-555-0199)
      if (m[5] !== undefined && m[5] !== m[6]) continue;
    } else if (m[7] !== undefined) {
      const n = countDigits(found);
      if (n < 10 || n > 12) continue;
    }
    (out ??= []).push({ kind: 'phone', start: m.index, end: m.index + found.length });
  }
  return out ?? NO_FINDINGS;
}
