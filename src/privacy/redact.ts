import { classifyTexts, collectRequestTexts, type Classification } from './classify.js';
import type { RequestLike } from './request-texts.js';
import type { ClassifierConfig } from './config.js';
import type { Finding } from './finding.js';
import { isRecord } from '../json.js';

/**
 * Redaction: detected values replaced by stable placeholders (`[REDACTED_CARD_1]`: the same value gets the same
 * placeholder everywhere in one request) so a request can go to a target cleared for less, and the placeholders
 * restored in the answer, streamed or not. Secrets are never redacted (a redacted secret still tells the target
 * where one was, and restoring one into an answer would echo it): their kinds are refused here whatever the
 * caller asks. The redacted request is classified again, so a value the per-text pass missed (split across
 * messages) keeps the request at its class. Routing and the attempt loop use it for privacy.redact.
 */

const NEVER = /^(secret\.|detector_error\.)/;
const PLACEHOLDER = /\[REDACTED_[A-Z0-9_]{1,40}\]/g;
/** The longest unfinished placeholder a stream may hold back. */
const MAX_PLACEHOLDER = 52;

export class Redaction {
  private readonly byValue = new Map<string, string>();
  private readonly byPlaceholder = new Map<string, string>();
  private readonly counters = new Map<string, number>();

  /** How many distinct values were replaced. */
  get size(): number {
    return this.byValue.size;
  }

  placeholderFor(kind: string, value: string): string {
    let p = this.byValue.get(value);
    if (p === undefined) {
      const label = kind.replace(/^(custom|keyword)\./, '').toUpperCase().replace(/[^A-Z0-9]+/g, '_');
      const n = (this.counters.get(label) ?? 0) + 1;
      this.counters.set(label, n);
      p = `[REDACTED_${label}_${n}]`;
      this.byValue.set(value, p);
      this.byPlaceholder.set(p, value);
    }
    return p;
  }

  /** The text with every known placeholder put back; unknown ones are left as they are. */
  restore(text: string): string {
    if (this.byPlaceholder.size === 0 || !text.includes('[REDACTED_')) return text;
    return text.replace(PLACEHOLDER, (p) => this.byPlaceholder.get(p) ?? p);
  }

  /** A restorer for one stream of text deltas: holds back what may be the start of a placeholder. */
  streamRestorer(): { push(delta: string): string; end(): string } {
    let pending = '';
    return {
      push: (delta) => {
        pending += delta;
        const open = pending.lastIndexOf('[');
        let cut = pending.length;
        if (open >= 0 && pending.length - open <= MAX_PLACEHOLDER && !pending.includes(']', open) && couldBePlaceholder(pending.slice(open))) {
          cut = open;
        }
        const out = this.restore(pending.slice(0, cut));
        pending = pending.slice(cut);
        return out;
      },
      end: () => {
        const out = this.restore(pending);
        pending = '';
        return out;
      },
    };
  }
}

function couldBePlaceholder(s: string): boolean {
  const head = '[REDACTED_';
  if (s.length <= head.length) return head.startsWith(s);
  return s.startsWith(head) && /^[A-Z0-9_]*$/.test(s.slice(head.length));
}

/** Replaces the findings of the given kinds in one text, longest first where they overlap. */
function redactText(text: string, config: ClassifierConfig, kinds: ReadonlySet<string>, redaction: Redaction): string {
  const found: Finding[] = [];
  for (const detector of config.detectors) {
    // A detector that throws here leaves its values in place; the re-classification then keeps the class.
    try {
      for (const f of detector.detect(text)) if (kinds.has(f.kind) && !NEVER.test(f.kind)) found.push(f);
    } catch {
      continue;
    }
  }
  if (found.length === 0) return text;
  found.sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let at = 0;
  for (const f of found) {
    if (f.start < at) continue; // overlaps one already replaced
    out += text.slice(at, f.start) + redaction.placeholderFor(f.kind, text.slice(f.start, f.end));
    at = f.end;
  }
  return out + text.slice(at);
}

export interface RedactedRequest<T> {
  request: T;
  redaction: Redaction;
  /** The class of the redacted request, by the same classifier: what a target must be cleared for. */
  remaining: Classification;
}

/**
 * A copy of the request with the values of `kinds` replaced in every text an upstream would see (the same texts
 * collectRequestTexts reads, except tool and function definitions, which are the caller's code, not data).
 */
export function redactRequest<T extends RequestLike>(req: T, config: ClassifierConfig, kinds: ReadonlySet<string>): RedactedRequest<T> {
  const redaction = new Redaction();
  const r = (text: string) => redactText(text, config, kinds, redaction);
  const copy = structuredClone(req);
  const body = copy as unknown as Record<string, unknown>;
  const messages: unknown = body.messages;
  if (Array.isArray(messages)) {
    for (const msg of messages) {
      if (!isRecord(msg)) continue;
      if (typeof msg.content === 'string') msg.content = r(msg.content);
      else if (Array.isArray(msg.content)) {
        for (const part of msg.content) {
          if (isRecord(part) && typeof part.text === 'string') part.text = r(part.text);
          if (isRecord(part) && typeof part.refusal === 'string') part.refusal = r(part.refusal);
        }
      }
      if (Array.isArray(msg.tool_calls)) {
        for (const call of msg.tool_calls) {
          if (isRecord(call) && isRecord(call.function) && typeof call.function.arguments === 'string') {
            call.function.arguments = r(call.function.arguments);
          }
        }
      }
      if (isRecord(msg.function_call) && typeof msg.function_call.arguments === 'string') {
        msg.function_call.arguments = r(msg.function_call.arguments);
      }
    }
  }
  if (typeof body.input === 'string') body.input = r(body.input);
  else if (Array.isArray(body.input)) body.input = body.input.map((x: unknown) => (typeof x === 'string' ? r(x) : x));
  if (typeof body.prompt === 'string') body.prompt = r(body.prompt);
  return { request: copy, redaction, remaining: classifyTexts(collectRequestTexts(copy), config) };
}

/** Puts the values back into a chat completion's choices (content, refusal, tool-call arguments). */
export function restoreCompletion<T>(completion: T, redaction: Redaction): T {
  if (redaction.size === 0 || !isRecord(completion) || !Array.isArray(completion.choices)) return completion;
  for (const choice of completion.choices) {
    if (!isRecord(choice) || !isRecord(choice.message)) continue;
    restoreMessage(choice.message, (s) => redaction.restore(s));
  }
  return completion;
}

function restoreMessage(msg: Record<string, unknown>, restore: (s: string) => string): void {
  if (typeof msg.content === 'string') msg.content = restore(msg.content);
  if (typeof msg.refusal === 'string') msg.refusal = restore(msg.refusal);
  if (Array.isArray(msg.tool_calls)) {
    for (const call of msg.tool_calls) {
      if (isRecord(call) && isRecord(call.function) && typeof call.function.arguments === 'string') {
        call.function.arguments = restore(call.function.arguments);
      }
    }
  }
}

/**
 * Restores a stream of chat chunks: per choice, content and each tool call's arguments go through their own
 * restorer, so a placeholder split across chunks comes out whole. What is held back at the end is flushed into
 * the chunk carrying the choice's finish_reason (or the last chunk).
 */
export async function* restoreChunks<C>(chunks: AsyncIterable<C>, redaction: Redaction): AsyncIterable<C> {
  if (redaction.size === 0) return yield* chunks;
  const restorers = new Map<string, ReturnType<Redaction['streamRestorer']>>();
  const restorer = (key: string) => {
    let r = restorers.get(key);
    if (r === undefined) restorers.set(key, (r = redaction.streamRestorer()));
    return r;
  };
  for await (const chunk of chunks) {
    if (isRecord(chunk) && Array.isArray(chunk.choices)) {
      for (const choice of chunk.choices) {
        if (!isRecord(choice) || !isRecord(choice.delta)) continue;
        const i = String(choice.index ?? 0);
        const delta = choice.delta;
        const finishing = choice.finish_reason !== null && choice.finish_reason !== undefined;
        if (typeof delta.content === 'string' || finishing) {
          const r = restorer(`${i}:content`);
          let text = typeof delta.content === 'string' ? r.push(delta.content) : '';
          if (finishing) text += r.end();
          if (typeof delta.content === 'string' || text !== '') delta.content = text;
        }
        if (Array.isArray(delta.tool_calls)) {
          for (const call of delta.tool_calls) {
            if (isRecord(call) && isRecord(call.function) && typeof call.function.arguments === 'string') {
              call.function.arguments = restorer(`${i}:tool:${String(call.index ?? 0)}`).push(call.function.arguments);
            }
          }
        }
        if (finishing) {
          for (const [key, r] of restorers) {
            if (!key.startsWith(`${i}:tool:`)) continue;
            const rest = r.end();
            if (rest !== '') {
              const index = Number(key.slice(`${i}:tool:`.length));
              const calls = Array.isArray(delta.tool_calls) ? delta.tool_calls : (delta.tool_calls = []);
              calls.push({ index, function: { arguments: rest } });
            }
          }
        }
      }
    }
    yield chunk;
  }
}
