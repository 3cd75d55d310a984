import type { ChatChunk, FinishReason } from '../../dialects/openai/schema.js';
import { HeddleError } from '../../errors.js';
import { checkPromptBlocked, finishReason, randomId, readParts, toUsage } from './answer.js';
import type { GeminiAnswer, GeminiUsage } from './wire.js';

// Gemini streamGenerateContent (alt=sse) -> OpenAI chunks. Each SSE data line is a whole
// GenerateContentResponse holding the next slice of each candidate; function calls arrive complete.
// Gemini sends no end marker: the stream is complete when every candidate has a finishReason.

export interface StreamTranslatorOptions {
  includeUsage: boolean;
  model: string;
  target: string;
  created?: number;
  newId?: (prefix: string) => string;
}

type Delta = ChatChunk['choices'][number]['delta'];

interface CandidateState {
  toolCalls: number;
  finish: FinishReason | null;
}

export class GeminiStreamTranslator {
  private id: string | undefined;
  private model: string;
  private readonly created: number;
  private readonly newId: (prefix: string) => string;
  private usage: GeminiUsage | undefined;
  private readonly candidates = new Map<number, CandidateState>();

  constructor(private readonly options: StreamTranslatorOptions) {
    this.model = options.model;
    this.created = options.created ?? Math.floor(Date.now() / 1000);
    this.newId = options.newId ?? randomId;
  }

  push(answer: GeminiAnswer): ChatChunk[] {
    checkPromptBlocked(answer, this.options.target);
    this.id ??= answer.responseId ?? this.newId('chatcmpl-');
    if (answer.modelVersion) this.model = answer.modelVersion;
    if (answer.usageMetadata) this.usage = answer.usageMetadata;
    const out: ChatChunk[] = [];
    (answer.candidates ?? []).forEach((candidate, position) => {
      const index = candidate.index ?? position;
      let state = this.candidates.get(index);
      if (!state) {
        state = { toolCalls: 0, finish: null };
        this.candidates.set(index, state);
        out.push(this.chunk(index, { role: 'assistant', content: '' }));
      }
      const { text, toolCalls } = readParts(candidate.content?.parts ?? [], this.newId);
      const content = text.join('');
      if (content) out.push(this.chunk(index, { content }));
      for (const call of toolCalls) {
        out.push(this.chunk(index, { tool_calls: [{ index: state.toolCalls++, ...call }] }));
      }
      const reason = finishReason(candidate.finishReason, state.toolCalls > 0);
      if (reason && !state.finish) {
        state.finish = reason;
        out.push(this.chunk(index, {}, reason));
      }
    });
    return out;
  }

  /** Call when the upstream stream ended: the usage chunk, or an error when a candidate never finished. */
  end(): ChatChunk[] {
    const unfinished = this.candidates.size === 0 || [...this.candidates.values()].some((c) => !c.finish);
    if (unfinished) {
      throw new HeddleError({
        status: 502,
        type: 'upstream_error',
        message: `Target '${this.options.target}' sent an invalid answer: the stream ended before a finishReason.`,
        target: this.options.target,
        code: 'upstream_invalid_response',
        retryable: true,
      });
    }
    if (!this.options.includeUsage) return [];
    return [{ ...this.base(), choices: [], usage: toUsage(this.usage ?? {}) }];
  }

  private base(): Pick<ChatChunk, 'id' | 'object' | 'created' | 'model'> {
    return { id: this.id ?? '', object: 'chat.completion.chunk', created: this.created, model: this.model };
  }

  private chunk(index: number, delta: Delta, finish: FinishReason | null = null): ChatChunk {
    return { ...this.base(), choices: [{ index, delta, finish_reason: finish }] };
  }
}
