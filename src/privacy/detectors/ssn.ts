import { NO_FINDINGS, type Finding } from '../finding.js';

/**
 * US Social Security numbers. Area 001-899 except 666, group 01-99, serial 0001-9999.
 *
 * Decision: the dashed form `123-45-6789` is distinctive and is flagged on its own. Nine digits written plainly or
 * with spaces (`123456789`, `123 45 6789`) are far too common (ids, amounts, phone fragments), so they are flagged
 * only when an SSN keyword (SSN, social security, SS#, taxpayer id) ends within 40 characters before the number.
 */
const CANDIDATE = /(?<![\w-])(\d{3})([- ]?)(\d{2})\2(\d{4})(?![\w-])/g;
const CONTEXT = /\b(?:ssn|ss#|social[ -]security|soc\.? ?sec|taxpayer[ -]id)(?![a-z])/i;
const CONTEXT_WINDOW = 40;

export function ssnPartsValid(area: number, group: number, serial: number): boolean {
  return area !== 0 && area !== 666 && area < 900 && group !== 0 && serial !== 0;
}

export function detectSsns(text: string): readonly Finding[] {
  let out: Finding[] | undefined;
  CANDIDATE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = CANDIDATE.exec(text)) !== null) {
    if (!ssnPartsValid(Number(m[1]), Number(m[3]), Number(m[4]))) continue;
    if (m[2] !== '-' && !CONTEXT.test(text.slice(Math.max(0, m.index - CONTEXT_WINDOW), m.index))) continue;
    (out ??= []).push({ kind: 'ssn', start: m.index, end: m.index + m[0].length });
  }
  return out ?? NO_FINDINGS;
}
