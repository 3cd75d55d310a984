import { classRank, type PrivacyClass } from './classes.js';
import { DEFAULT_CLASSIFIER_CONFIG, type ClassifierConfig, type EnabledDetector } from './config.js';
import type { Finding } from './finding.js';

export { collectRequestTexts } from './request-texts.js';

/**
 * The content class of a request and what raised it: finding kinds with their counts. Never the matched text,
 * never offsets: this is what the audit line and response headers may carry.
 */
export interface Classification {
  readonly class: PrivacyClass;
  readonly findings: Readonly<Record<string, number>>;
}

/**
 * How far into each neighbour a split item is looked for. Cards, IBANs, SSNs, phones and emails fit easily; a
 * secret longer than this split across two messages is not caught (a JWT usually is, by its header).
 */
const JUNCTION_WINDOW = 256;

class Tally {
  cls: PrivacyClass = 'public';
  readonly counts: Record<string, number> = Object.create(null) as Record<string, number>;

  add(kind: string, n: number, cls: PrivacyClass): void {
    this.counts[kind] = (this.counts[kind] ?? 0) + n;
    if (classRank(cls) > classRank(this.cls)) this.cls = cls;
  }

  failed(detector: EnabledDetector): void {
    this.add(`detector_error.${detector.name}`, 1, 'restricted');
  }
}

/**
 * Runs every enabled detector over every text and over each junction between adjacent texts, and returns the
 * highest class any finding calls for (`public` when nothing is found). A detector that throws makes the request
 * restricted and is reported as `detector_error.<name>`; the error itself is dropped, as it may quote the text.
 */
export function classifyTexts(
  texts: Iterable<string>,
  config: ClassifierConfig = DEFAULT_CLASSIFIER_CONFIG,
): Classification {
  const tally = new Tally();
  const n = config.detectors.length;
  // Findings of the previous and current text, per detector, for telling split items from whole ones.
  let prev: Scanned | undefined;
  for (const text of texts) {
    if (typeof text !== 'string' || text.length === 0) continue;
    const found: (readonly Finding[] | undefined)[] = new Array<readonly Finding[] | undefined>(n);
    for (let d = 0; d < n; d++) {
      const detector = config.detectors[d] as EnabledDetector;
      const findings = run(detector, text, tally);
      found[d] = findings;
      if (findings !== undefined) for (const f of findings) tally.add(f.kind, 1, detector.class);
    }
    const current: Scanned = { text, found };
    if (config.crossBoundary && prev !== undefined) scanJunction(prev, current, config, tally);
    prev = current;
  }
  return { class: tally.cls, findings: { ...tally.counts } };
}

interface Scanned {
  readonly text: string;
  /** Per detector index; undefined where the detector threw. */
  readonly found: readonly (readonly Finding[] | undefined)[];
}

/** True when some finding of `kind` overlaps [start, end). */
function overlaps(findings: readonly Finding[] | undefined, kind: string, start: number, end: number): boolean {
  if (findings === undefined) return false;
  for (const f of findings) if (f.kind === kind && f.start < end && f.end > start) return true;
  return false;
}

function run(detector: EnabledDetector, text: string, tally: Tally): readonly Finding[] | undefined {
  try {
    return detector.detect(text);
  } catch {
    tally.failed(detector);
    return undefined;
  }
}

function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 0xa0;
}

/** Characters an item can end or begin with at a split: digits, letters and the joiners of keys and addresses. */
function isTokenEdge(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) ||
    c === 43 /* + */ || c === 45 /* - */ || c === 95 /* _ */ || c === 64 /* @ */ || c === 47 /* / */ || c === 61 /* = */
  );
}

/**
 * An item split across two texts ("card 4111 1111" | "1111 1111") is found by scanning the end of one text joined
 * to the start of the next, and counting findings that straddle the join. Joins are tried without a separator
 * (the split fell inside a token, or whitespace is already there) and, when neither side has whitespace at the
 * join, with one space (the split fell between groups). A straddling finding that overlaps an item already found
 * in either text is that item seen through the join ("word" + "a@example.com" -> "worda@example.com"), and is not
 * counted again. Junctions where either side ends in prose punctuation are skipped, which keeps the cost near zero
 * for ordinary conversations.
 */
function scanJunction(prev: Scanned, next: Scanned, config: ClassifierConfig, tally: Tally): void {
  const a = prev.text;
  const b = next.text;
  let ai = a.length - 1;
  while (ai >= 0 && isSpace(a.charCodeAt(ai))) ai--;
  let bi = 0;
  while (bi < b.length && isSpace(b.charCodeAt(bi))) bi++;
  if (ai < 0 || bi >= b.length || !isTokenEdge(a.charCodeAt(ai)) || !isTokenEdge(b.charCodeAt(bi))) return;

  const tailStart = Math.max(0, a.length - JUNCTION_WINDOW);
  const tail = tailStart === 0 ? a : a.slice(tailStart);
  const head = b.length > JUNCTION_WINDOW ? b.slice(0, JUNCTION_WINDOW) : b;
  const spaced = ai === a.length - 1 && bi === 0;
  const joins = spaced ? ['', ' '] : [''];

  config.detectors.forEach((detector, d) => {
    // Per kind, the most straddling findings any one join produced, so one split item counts once.
    let best: Map<string, number> | undefined;
    for (const sep of joins) {
      const findings = run(detector, tail + sep + head, tally);
      if (findings === undefined) break;
      const bStart = tail.length + sep.length;
      let counts: Map<string, number> | undefined;
      for (const f of findings) {
        if (f.start >= tail.length || f.end <= bStart) continue;
        if (overlaps(prev.found[d], f.kind, tailStart + f.start, a.length)) continue;
        if (overlaps(next.found[d], f.kind, 0, f.end - bStart)) continue;
        counts ??= new Map();
        counts.set(f.kind, (counts.get(f.kind) ?? 0) + 1);
      }
      if (counts === undefined) continue;
      best ??= new Map();
      for (const [kind, count] of counts) if (count > (best.get(kind) ?? 0)) best.set(kind, count);
    }
    if (best !== undefined) for (const [kind, count] of best) tally.add(kind, count, detector.class);
  });
}
