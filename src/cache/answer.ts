import type { ChatChunk, ChatCompletion, FinishReason, ToolCall, Usage } from '../dialects/openai/schema.js';

// Converting between the two shapes of one chat answer: a stream's chunks are assembled into the completion the
// cache stores, and a stored completion is replayed as the chunks a streaming client expects (role chunk,
// content, tool call deltas, finish chunk, usage chunk; the SSE writer drops usage unless the client asked).

const TOP_LEVEL_EXTRAS = ['system_fingerprint', 'service_tier'] as const;

interface ChoiceParts {
  text: string;
  sawText: boolean;
  refusal: string | undefined;
  toolCalls: Map<number, { id: string; name: string; arguments: string }>;
  finish: FinishReason | null;
}

/** Assembles a stream's chunks into one completion as they pass. */
export class ChunkAssembler {
  private head: ChatChunk | undefined;
  private readonly choices = new Map<number, ChoiceParts>();
  private usage: Usage | undefined;
  /** False once the stream carried something the assembler does not rebuild (logprobs). */
  storable = true;

  add(chunk: ChatChunk): void {
    this.head ??= chunk;
    if (chunk.usage) this.usage = chunk.usage;
    for (const c of chunk.choices) {
      let parts = this.choices.get(c.index);
      if (parts === undefined) {
        parts = { text: '', sawText: false, refusal: undefined, toolCalls: new Map(), finish: null };
        this.choices.set(c.index, parts);
      }
      // Streamed logprobs are not reassembled; such answers are served but not stored.
      if (c.logprobs !== undefined && c.logprobs !== null) this.storable = false;
      const d = c.delta;
      if (typeof d.content === 'string') {
        parts.text += d.content;
        if (d.content !== '') parts.sawText = true;
      }
      if (typeof d.refusal === 'string') parts.refusal = (parts.refusal ?? '') + d.refusal;
      for (const t of d.tool_calls ?? []) {
        const call = parts.toolCalls.get(t.index) ?? { id: '', name: '', arguments: '' };
        if (t.id) call.id = t.id;
        if (t.function?.name) call.name += t.function.name;
        if (t.function?.arguments) call.arguments += t.function.arguments;
        parts.toolCalls.set(t.index, call);
      }
      if (c.finish_reason) parts.finish = c.finish_reason;
    }
  }

  /** The answer so far as a completion (a choice may lack its finish_reason: see isComplete); undefined before any choice. */
  completion(): ChatCompletion | undefined {
    const head = this.head;
    if (head === undefined || this.choices.size === 0) return undefined;
    const choices: ChatCompletion['choices'] = [];
    for (const index of [...this.choices.keys()].sort((a, b) => a - b)) {
      const p = this.choices.get(index);
      if (p === undefined) continue;
      const toolCalls: ToolCall[] = [...p.toolCalls.entries()]
        .sort(([a], [b]) => a - b)
        .map(([, t]) => ({ id: t.id, type: 'function', function: { name: t.name, arguments: t.arguments } }));
      const content = p.sawText || (toolCalls.length === 0 && p.refusal === undefined) ? p.text : null;
      choices.push({
        index,
        message: {
          role: 'assistant',
          content,
          refusal: p.refusal ?? null,
          ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
        },
        finish_reason: p.finish,
        logprobs: null,
      });
    }
    const completion: ChatCompletion = { id: head.id, object: 'chat.completion', created: head.created, model: head.model, choices };
    for (const k of TOP_LEVEL_EXTRAS) if (head[k] !== undefined) completion[k] = head[k];
    if (this.usage) completion.usage = this.usage;
    return completion;
  }
}

/** True when every choice of a non-streamed answer finished (an answer cut by the target is not stored). */
export function isComplete(completion: ChatCompletion): boolean {
  return completion.choices.length > 0 && completion.choices.every((c) => c.finish_reason !== null);
}

/** A stored completion as the chunks of a stream, in OpenAI's order. */
export function replayChunks(completion: ChatCompletion): ChatChunk[] {
  const base = { id: completion.id, object: 'chat.completion.chunk' as const, created: completion.created, model: completion.model };
  for (const k of TOP_LEVEL_EXTRAS) if (completion[k] !== undefined) Object.assign(base, { [k]: completion[k] });
  const chunk = (choice: ChatChunk['choices'][number]): ChatChunk => ({ ...base, choices: [choice] });
  const out: ChatChunk[] = [];
  for (const c of completion.choices) {
    const m = c.message;
    out.push(chunk({ index: c.index, delta: { role: 'assistant', content: m.content === null ? null : '' }, logprobs: null, finish_reason: null }));
    if (m.content) out.push(chunk({ index: c.index, delta: { content: m.content }, logprobs: c.logprobs ?? null, finish_reason: null }));
    if (m.refusal) out.push(chunk({ index: c.index, delta: { refusal: m.refusal }, logprobs: null, finish_reason: null }));
    (m.tool_calls ?? []).forEach((t, i) => {
      const delta = { tool_calls: [{ index: i, id: t.id, type: 'function' as const, function: { name: t.function.name, arguments: t.function.arguments } }] };
      out.push(chunk({ index: c.index, delta, logprobs: null, finish_reason: null }));
    });
    out.push(chunk({ index: c.index, delta: {}, logprobs: null, finish_reason: c.finish_reason }));
  }
  if (completion.usage) out.push({ ...base, choices: [], usage: completion.usage });
  return out;
}
