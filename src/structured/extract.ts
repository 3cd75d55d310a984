import { MAX_JSON_DEPTH, parseJson } from '../json.js';

// Finds the JSON value in a model's answer text: the whole text when it parses, else the first balanced
// {...} or [...] that parses, after dropping <think> blocks and markdown code fences. Pure.

export type Extracted = { ok: true; value: unknown; text: string } | { ok: false; reason: string };

const THINK = /<think>[\s\S]*?(<\/think>|$)/gi;
const FENCE = /```[A-Za-z0-9_-]*\s*\n?([\s\S]*?)```/;

export function extractJson(answer: string): Extracted {
  const cleaned = answer.replace(THINK, '').trim();
  const fenced = FENCE.exec(cleaned)?.[1]?.trim();
  for (const candidate of [cleaned, fenced]) {
    if (candidate === undefined || candidate === '') continue;
    const whole = tryParse(candidate);
    if (whole.ok) return whole;
  }
  const source = fenced ?? cleaned;
  const spans = balancedSpans(source);
  for (let start = firstOpen(source, 0); start !== -1; start = firstOpen(source, start + 1)) {
    const span = spans.at(start);
    // One too deep is refused by parseJson anyway; skipping it spares parsing it.
    if (span === undefined || span.depth > MAX_JSON_DEPTH) continue;
    const parsed = tryParse(source.slice(start, span.end + 1));
    if (parsed.ok) return parsed;
  }
  return { ok: false, reason: cleaned === '' ? 'the answer is empty' : 'the answer contains no parseable JSON' };
}

function tryParse(text: string): Extracted {
  try {
    return { ok: true, value: parseJson(text), text };
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
}

function firstOpen(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text[i];
    if (c === '{' || c === '[') return i;
  }
  return -1;
}

/** A balanced {...} or [...]: the index of its closing bracket, and how many levels it nests. */
interface Span {
  end: number;
  depth: number;
}

/** Characters the scans of one answer may visit in all, per character of the answer. */
const SCAN_STEPS_PER_CHAR = 16;

/**
 * The balanced span opened by each bracket, found as a scan from that bracket sees it (strings skipped, a
 * mismatched or missing close ends it unbalanced). One scan settles every bracket it passes outside a string: a
 * scan from such a bracket would see the same characters in the same string state. So a text of brackets costs a
 * few scans, not one per bracket (a model looping on "{" blocked the gateway for 20 s on 50 KB). Brackets in
 * strings still need scans of their own; past a budget of steps the rest count as unbalanced, so no answer costs
 * more than a few milliseconds.
 */
function balancedSpans(text: string): { at(start: number): Span | undefined } {
  const settled = new Map<number, Span | null>();
  let steps = SCAN_STEPS_PER_CHAR * text.length;
  const scan = (from: number): void => {
    // Open brackets: position, the close they need, and the deepest nesting seen inside so far.
    const stack: { pos: number; close: string; inner: number }[] = [];
    let inString = false;
    for (let i = from; i < text.length && steps > 0; i++, steps--) {
      const c = text[i];
      if (inString) {
        if (c === '\\') i++;
        else if (c === '"') inString = false;
        continue;
      }
      if (c === '"') inString = true;
      else if (c === '{' || c === '[') stack.push({ pos: i, close: c === '{' ? '}' : ']', inner: 0 });
      else if (c === '}' || c === ']') {
        const open = stack.at(-1);
        if (open === undefined || open.close !== c) break;
        stack.pop();
        settled.set(open.pos, { end: i, depth: open.inner + 1 });
        const parent = stack.at(-1);
        if (parent === undefined) return;
        parent.inner = Math.max(parent.inner, open.inner + 1);
      }
    }
    for (const open of stack) settled.set(open.pos, null);
  };
  return {
    at(start) {
      if (!settled.has(start)) scan(start);
      return settled.get(start) ?? undefined;
    },
  };
}
