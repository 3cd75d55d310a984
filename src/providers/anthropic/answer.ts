import type { ChatCompletion, FinishReason, ToolCall, Usage } from '../../dialects/openai/schema.js';
import type { AnthropicAnswer, AnthropicUsage } from './wire.js';

// Anthropic Messages answer -> OpenAI chat completion. Pure.

export function fromAnthropicAnswer(answer: AnthropicAnswer, created = nowSeconds()): ChatCompletion {
  const text: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const block of answer.content) {
    if (block.type === 'text' && 'text' in block && typeof block.text === 'string') text.push(block.text);
    else if (block.type === 'tool_use' && 'input' in block && 'name' in block && 'id' in block) {
      toolCalls.push({
        id: String(block.id),
        type: 'function',
        function: { name: String(block.name), arguments: JSON.stringify(block.input) },
      });
    }
  }
  const message: ChatCompletion['choices'][number]['message'] = {
    role: 'assistant',
    content: text.length > 0 ? text.join('') : null,
  };
  if (toolCalls.length > 0) message.tool_calls = toolCalls;
  return {
    id: answer.id,
    object: 'chat.completion',
    created,
    model: answer.model,
    choices: [{ index: 0, message, finish_reason: finishReason(answer.stop_reason) }],
    usage: toUsage(answer.usage),
  };
}

/** Anthropic stop_reason -> OpenAI finish_reason (https://docs.anthropic.com/en/api/handling-stop-reasons). */
export function finishReason(stopReason: string | null | undefined): FinishReason | null {
  switch (stopReason) {
    case null:
    case undefined:
      return null;
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length';
    case 'tool_use':
      return 'tool_calls';
    case 'refusal':
      return 'content_filter';
    default:
      // end_turn, stop_sequence, pause_turn and any reason added later end the turn normally.
      return 'stop';
  }
}

/** OpenAI's prompt_tokens include cached tokens; Anthropic counts cache reads and writes separately. */
export function toUsage(usage: AnthropicUsage): Usage {
  const cacheRead = usage.cache_read_input_tokens ?? 0;
  const prompt = (usage.input_tokens ?? 0) + (usage.cache_creation_input_tokens ?? 0) + cacheRead;
  const completion = usage.output_tokens ?? 0;
  return {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: prompt + completion,
    ...(cacheRead > 0 ? { prompt_tokens_details: { cached_tokens: cacheRead } } : {}),
  };
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
