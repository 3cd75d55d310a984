import { parseJson } from '../json.js';

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
  for (let start = firstOpen(source, 0); start !== -1; start = firstOpen(source, start + 1)) {
    const end = balancedEnd(source, start);
    if (end === -1) continue;
    const parsed = tryParse(source.slice(start, end + 1));
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

/** Index of the bracket closing the one at `start`, skipping strings; -1 when it never closes. */
function balancedEnd(text: string, start: number): number {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{') stack.push('}');
    else if (c === '[') stack.push(']');
    else if (c === '}' || c === ']') {
      if (stack.pop() !== c) return -1;
      if (stack.length === 0) return i;
    }
  }
  return -1;
}
