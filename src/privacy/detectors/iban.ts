import { NO_FINDINGS, type Finding } from '../finding.js';
import { isAsciiAlnum } from './chars.js';

/**
 * IBANs in electronic form (DE89370400440532013000) or print form (DE89 3704 0044 0532 0130 00): a known country
 * code, that country's exact length, and the ISO 13616 mod-97 check. Uppercase only, as IBANs are written;
 * requiring uppercase keeps the scan from stopping at every `ab12` in code.
 */

/** IBAN length by country (SWIFT IBAN registry). */
export const IBAN_LENGTHS: Readonly<Record<string, number>> = {
  AD: 24, AE: 23, AL: 28, AT: 20, AZ: 28, BA: 20, BE: 16, BG: 22, BH: 22, BI: 27, BR: 29, BY: 28, CH: 21,
  CR: 22, CY: 28, CZ: 24, DE: 22, DJ: 27, DK: 18, DO: 28, EE: 20, EG: 29, ES: 24, FI: 18, FK: 18, FO: 18,
  FR: 27, GB: 22, GE: 22, GI: 23, GL: 18, GR: 27, GT: 28, HR: 21, HU: 28, IE: 22, IL: 23, IQ: 23, IS: 26,
  IT: 27, JO: 30, KW: 30, KZ: 20, LB: 28, LC: 32, LI: 21, LT: 20, LU: 20, LV: 21, LY: 25, MC: 27, MD: 24,
  ME: 22, MK: 19, MN: 20, MR: 27, MT: 31, MU: 30, NI: 28, NL: 18, NO: 15, OM: 23, PK: 24, PL: 28, PS: 29,
  PT: 25, QA: 29, RO: 24, RS: 22, RU: 33, SA: 24, SC: 31, SD: 18, SE: 24, SI: 19, SK: 24, SM: 27, SO: 23,
  ST: 25, SV: 28, TL: 23, TN: 24, TR: 26, UA: 29, VA: 22, VG: 24, XK: 20, YE: 30,
};

const CANDIDATE = /(?<![A-Za-z0-9])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,32}/g;

/**
 * ISO 13616 check on a compact uppercase IBAN: move the first four characters to the end, letters to 10..35,
 * mod 97 == 1. Check digits are always 02-98; 00, 01 and 99 can satisfy mod 97 (they alias 97, 98 and 02) but are
 * never issued.
 */
export function ibanChecksumValid(iban: string): boolean {
  const n = iban.length;
  if (n < 5) return false;
  const check = (iban.charCodeAt(2) - 48) * 10 + (iban.charCodeAt(3) - 48);
  if (!(check >= 2 && check <= 98)) return false;
  let rem = 0;
  for (let k = 0; k < n; k++) {
    const c = iban.charCodeAt((k + 4) % n);
    if (c >= 48 && c <= 57) rem = (rem * 10 + (c - 48)) % 97;
    else if (c >= 65 && c <= 90) rem = (rem * 100 + (c - 55)) % 97;
    else return false;
  }
  return rem === 1;
}

export function detectIbans(text: string): readonly Finding[] {
  let out: Finding[] | undefined;
  CANDIDATE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = CANDIDATE.exec(text)) !== null) {
    const start = m.index;
    const want = IBAN_LENGTHS[m[0].slice(0, 2)];
    if (want === undefined) {
      CANDIDATE.lastIndex = start + 1;
      continue;
    }
    // The candidate may run into following uppercase words; take exactly the country's length.
    let compact = '';
    let end = start;
    const run = m[0];
    for (let i = 0; i < run.length && compact.length < want; i++) {
      const ch = run[i] as string;
      if (ch !== ' ') compact += ch;
      end = start + i + 1;
    }
    if (compact.length !== want || (end < text.length && isAsciiAlnum(text.charCodeAt(end)))) {
      CANDIDATE.lastIndex = start + 1;
      continue;
    }
    if (!ibanChecksumValid(compact)) {
      CANDIDATE.lastIndex = start + 1;
      continue;
    }
    (out ??= []).push({ kind: 'iban', start, end });
    CANDIDATE.lastIndex = end;
  }
  return out ?? NO_FINDINGS;
}
