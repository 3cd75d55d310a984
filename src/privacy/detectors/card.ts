import { NO_FINDINGS, type Finding } from '../finding.js';

/**
 * Payment card numbers (PANs): 13-19 digits, either contiguous or in the groupings printed on cards (separated by
 * one kind of separator, space or dash), starting with a known issuer prefix and passing the Luhn check.
 *
 * The regex only matches runs of 13+ digits, so prose and code with short numbers produce no match objects. The
 * lookbehind makes a run start only where no digit run continues, which keeps the scan linear.
 */
const DIGIT_RUN = /(?<!\d[ -]?)\d(?:[ -]?\d){12,}/g;

/** Luhn (mod 10) check over a string of ASCII digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  let double = false;
  for (let i = digits.length - 1; i >= 0; i--) {
    let d = digits.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return false;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
    double = !double;
  }
  return digits.length > 0 && sum % 10 === 0;
}

/** The number formed by the first `n` digits, without allocating a substring. */
function leading(digits: string, n: number): number {
  let v = 0;
  for (let i = 0; i < n; i++) v = v * 10 + (digits.charCodeAt(i) - 48);
  return v;
}

/** Known issuer prefixes (IIN ranges) with the lengths each network issues. */
export function knownIssuer(digits: string): boolean {
  const n = digits.length;
  const p2 = leading(digits, 2);
  const p3 = leading(digits, 3);
  const p4 = leading(digits, 4);
  const p6 = leading(digits, 6);
  switch (digits.charCodeAt(0) - 48) {
    case 4: // Visa
      return n === 13 || n === 16 || n === 19;
    case 5:
      if (p2 >= 51 && p2 <= 55) return n === 16; // Mastercard
      if (p4 === 5018 || p4 === 5020 || p4 === 5038 || p4 === 5893) return n >= 12; // Maestro
      return false;
    case 2:
      if (p4 >= 2221 && p4 <= 2720) return n === 16; // Mastercard 2-series
      if (p4 >= 2200 && p4 <= 2204) return n >= 16; // Mir
      return false;
    case 3:
      if (p2 === 34 || p2 === 37) return n === 15; // Amex
      if ((p3 >= 300 && p3 <= 305) || p2 === 36 || p2 === 38 || p2 === 39) return n >= 14; // Diners
      if (p4 >= 3528 && p4 <= 3589) return n >= 16; // JCB
      return false;
    case 6:
      if (p4 === 6011 || p2 === 65 || (p3 >= 644 && p3 <= 649)) return n >= 16; // Discover
      if (p6 >= 622126 && p6 <= 622925) return n >= 16; // Discover / UnionPay co-brand
      if (p2 === 62) return n >= 16; // UnionPay
      if (p4 === 6304 || p4 === 6759 || (p4 >= 6761 && p4 <= 6763)) return n >= 12; // Maestro
      return false;
    default:
      return false;
  }
}

/** Group sizes printed on cards: 4-4-4-4(-3), 4-6-5 (Amex), 4-6-4 (Diners), 4-4-4-1..3, 4-4-5 (13-digit Visa). */
function usualGrouping(groups: readonly number[]): boolean {
  const k = groups.length;
  if (k === 1) return true;
  const [a, b, c] = groups;
  if (k === 3 && a === 4 && b === 6) return c === 5 || c === 4;
  if (k === 3 && a === 4 && b === 4) return c === 5;
  for (let i = 0; i < k - 1; i++) if (groups[i] !== 4) return false;
  const last = groups[k - 1] ?? 0;
  return (k === 4 || k === 5) && last >= 1 && last <= 4;
}

export function detectCards(text: string): readonly Finding[] {
  let out: Finding[] | undefined;
  DIGIT_RUN.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = DIGIT_RUN.exec(text)) !== null) {
    const run = m[0];
    const base = m.index;
    if (run.indexOf(' ') === -1 && run.indexOf('-') === -1) {
      if (run.length <= 19 && knownIssuer(run) && luhnValid(run)) {
        (out ??= []).push({ kind: 'card', start: base, end: base + run.length });
      }
      continue;
    }
    // Separated run: split into groups. A card may sit inside a longer run ("4111 1111 1111 1111 123" with
    // a CVV after it), so try each window of consecutive groups, longest first, and keep the first valid one.
    const starts: number[] = [0];
    const sizes: number[] = [];
    let sep = 0;
    let consistent = true;
    let size = 0;
    for (let i = 0; i < run.length; i++) {
      const c = run.charCodeAt(i);
      if (c >= 48 && c <= 57) {
        size++;
        continue;
      }
      if (sep !== 0 && sep !== c) consistent = false;
      sep = c;
      sizes.push(size);
      starts.push(i + 1);
      size = 0;
    }
    sizes.push(size);
    if (!consistent || sizes.length > 12) continue;
    let s = 0;
    while (s < sizes.length) {
      const found = cardInGroups(run, starts, sizes, s);
      if (found === undefined) {
        s++;
        continue;
      }
      (out ??= []).push({ kind: 'card', start: base + (starts[s] ?? 0), end: base + found.end });
      s = found.next;
    }
  }
  return out ?? NO_FINDINGS;
}

/** The longest valid card made of groups starting at group `s`, if any. */
function cardInGroups(
  run: string,
  starts: readonly number[],
  sizes: readonly number[],
  s: number,
): { end: number; next: number } | undefined {
  let total = 0;
  let last = s;
  while (last < sizes.length && total + (sizes[last] ?? 0) <= 19) total += sizes[last++] ?? 0;
  for (let e = last; e > s; e--) {
    const window = sizes.slice(s, e);
    const digitCount = window.reduce((a, b) => a + b, 0);
    if (digitCount < 13) break;
    if (!usualGrouping(window)) continue;
    const end = (starts[e - 1] ?? 0) + (sizes[e - 1] ?? 0);
    const digits = run.slice(starts[s] ?? 0, end).replace(/[ -]/g, '');
    if (knownIssuer(digits) && luhnValid(digits)) return { end, next: e };
  }
  return undefined;
}
