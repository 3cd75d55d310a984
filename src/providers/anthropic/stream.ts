import type { ChatChunk, FinishReason, ToolCallDelta } from '../../dialects/openai/schema.js';
import { HeddleError } from '../../errors.js';
import { finishReason, nowSeconds, toUsage } from './answer.js';
import type { AnthropicStreamEvent, AnthropicUsage } from './wire.js';

// Anthropic stream events -> OpenAI chunks, one event at a time
// (https://docs.anthropic.com/en/docs/build-with-claude/streaming). Pure apart from its own state.

export interface StreamTranslatorOptions {
  includeUsage: boolean;
  /** Target name for errors raised by `error` events. */
  target: string;
  created?: number;
}

type Delta = ChatChunk['choices'][number]['delta'];

export class AnthropicStreamTranslator {
  private id = '';
  private model = '';
  private readonly created: number;
  private usage: AnthropicUsage = {};
  private stopReason: string | null | undefined;
  /** Anthropic content block index -> OpenAI tool call index, with whether any argument bytes were sent. */
  private readonly tools = new Map<number, { index: number; sentArguments: boolean }>();
  private stopped = false;

  constructor(private readonly options: StreamTranslatorOptions) {
    this.created = options.created ?? nowSeconds();
  }

  /** True once message_stop arrived; a stream that ends before that is broken. */
  get done(): boolean {
    return this.stopped;
  }

  push(event: AnthropicStreamEvent): ChatChunk[] {
    switch (event.type) {
      case 'message_start':
        this.id = event.message.id;
        this.model = event.message.model;
        this.usage = { ...event.message.usage };
        return [this.chunk({ role: 'assistant', content: '' })];
      case 'content_block_start': {
        const block = event.content_block;
        if (block.type === 'text' && 'text' in block && typeof block.text === 'string' && block.text) {
          return [this.chunk({ content: block.text })];
        }
        if (block.type === 'tool_use' && 'id' in block && 'name' in block) {
          const index = this.tools.size;
          this.tools.set(event.index, { index, sentArguments: false });
          return [
            this.toolChunk({
              index,
              id: String(block.id),
              type: 'function',
              function: { name: String(block.name), arguments: '' },
            }),
          ];
        }
        return [];
      }
      case 'content_block_delta': {
        const delta = event.delta;
        if (delta.type === 'text_delta' && 'text' in delta && typeof delta.text === 'string') {
          return delta.text ? [this.chunk({ content: delta.text })] : [];
        }
        if (delta.type === 'input_json_delta' && 'partial_json' in delta && typeof delta.partial_json === 'string') {
          const tool = this.tools.get(event.index);
          if (!tool || !delta.partial_json) return [];
          tool.sentArguments = true;
          return [this.toolChunk({ index: tool.index, function: { arguments: delta.partial_json } })];
        }
        return []; // thinking, signature and citation deltas have no OpenAI counterpart
      }
      case 'content_block_stop': {
        const tool = this.tools.get(event.index);
        // A tool called without arguments streams no JSON; OpenAI clients expect a parseable object.
        if (tool && !tool.sentArguments) {
          tool.sentArguments = true;
          return [this.toolChunk({ index: tool.index, function: { arguments: '{}' } })];
        }
        return [];
      }
      case 'message_delta':
        if (event.delta.stop_reason !== undefined) this.stopReason = event.delta.stop_reason;
        if (event.usage) this.usage = { ...this.usage, ...definedOnly(event.usage) };
        return [];
      case 'message_stop': {
        this.stopped = true;
        const out = [this.finalChunk(finishReason(this.stopReason) ?? 'stop')];
        if (this.options.includeUsage) out.push({ ...this.base(), choices: [], usage: toUsage(this.usage) });
        return out;
      }
      case 'ping':
        return [];
      case 'error':
        throw streamError(this.options.target, event.error.type, event.error.message);
    }
  }

  private base(): Pick<ChatChunk, 'id' | 'object' | 'created' | 'model'> {
    return { id: this.id, object: 'chat.completion.chunk', created: this.created, model: this.model };
  }

  private chunk(delta: Delta): ChatChunk {
    return { ...this.base(), choices: [{ index: 0, delta, finish_reason: null }] };
  }

  private toolChunk(call: ToolCallDelta): ChatChunk {
    return this.chunk({ tool_calls: [call] });
  }

  private finalChunk(reason: FinishReason): ChatChunk {
    return { ...this.base(), choices: [{ index: 0, delta: {}, finish_reason: reason }] };
  }
}

function definedOnly(usage: AnthropicUsage): AnthropicUsage {
  return Object.fromEntries(Object.entries(usage).filter(([, v]) => v !== undefined && v !== null));
}

// Anthropic error types -> status (https://docs.anthropic.com/en/api/errors). 529 overloaded becomes 503 so
// clients and the attempt loop see a standard, retryable status.
const ERROR_STATUS: Record<string, number> = {
  invalid_request_error: 400,
  authentication_error: 401,
  permission_error: 403,
  not_found_error: 404,
  request_too_large: 413,
  rate_limit_error: 429,
  api_error: 500,
  overloaded_error: 503,
};

export function streamError(target: string, type: string, message: string): HeddleError {
  const status = ERROR_STATUS[type] ?? 502;
  return new HeddleError({
    status,
    type: status === 429 ? 'rate_limit_error' : 'upstream_error',
    message: `Target '${target}' reported an error mid-stream: ${type}: ${message}`,
    target,
    code: 'upstream_error',
    retryable: status === 429 || status >= 500,
  });
}
