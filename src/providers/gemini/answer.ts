import type { ChatCompletion, FinishReason, ToolCall, Usage } from '../../dialects/openai/schema.js';
import { HeddleError } from '../../errors.js';
import type { GeminiAnswer, GeminiAnswerPart, GeminiUsage } from './wire.js';

// Gemini generateContent answer -> OpenAI chat completion. Pure, given an id source.

export interface AnswerOptions {
  model: string;
  target: string;
  created?: number;
  /** Makes tool call and completion ids; Gemini usually sends neither. */
  newId?: (prefix: string) => string;
}

export function fromGeminiAnswer(answer: GeminiAnswer, options: AnswerOptions): ChatCompletion {
  checkPromptBlocked(answer, options.target);
  const newId = options.newId ?? randomId;
  const choices = (answer.candidates ?? []).map((candidate, position) => {
    const { text, toolCalls } = readParts(candidate.content?.parts ?? [], newId);
    const message: ChatCompletion['choices'][number]['message'] = {
      role: 'assistant',
      content: text.length > 0 ? text.join('') : null,
    };
    if (toolCalls.length > 0) message.tool_calls = toolCalls;
    return {
      index: candidate.index ?? position,
      message,
      finish_reason: finishReason(candidate.finishReason, toolCalls.length > 0) ?? 'stop',
    };
  });
  const completion: ChatCompletion = {
    id: answer.responseId ?? newId('chatcmpl-'),
    object: 'chat.completion',
    created: options.created ?? Math.floor(Date.now() / 1000),
    model: answer.modelVersion ?? options.model,
    choices,
  };
  if (answer.usageMetadata) completion.usage = toUsage(answer.usageMetadata);
  return completion;
}

export function readParts(
  parts: GeminiAnswerPart[],
  newId: (prefix: string) => string,
): { text: string[]; toolCalls: ToolCall[] } {
  const text: string[] = [];
  const toolCalls: ToolCall[] = [];
  for (const part of parts) {
    if (part.thought) continue; // thought summaries are not answer text
    if (part.text !== undefined) text.push(part.text);
    if (part.functionCall) toolCalls.push(toToolCall(part, part.functionCall, newId));
  }
  return { text, toolCalls };
}

function toToolCall(
  part: GeminiAnswerPart,
  call: NonNullable<GeminiAnswerPart['functionCall']>,
  newId: (prefix: string) => string,
): ToolCall {
  const toolCall: ToolCall = {
    id: call.id ?? newId('call_'),
    type: 'function',
    function: { name: call.name, arguments: JSON.stringify(call.args ?? {}) },
  };
  // Gemini 3 needs the signature back with the call; carried where Google's OpenAI endpoint puts it.
  if (part.thoughtSignature) toolCall.extra_content = { google: { thought_signature: part.thoughtSignature } };
  return toolCall;
}

/** https://ai.google.dev/api/generate-content#FinishReason; a turn that called functions ends in tool_calls. */
export function finishReason(reason: string | undefined, calledTools: boolean): FinishReason | null {
  switch (reason) {
    case undefined:
    case 'FINISH_REASON_UNSPECIFIED':
      return null;
    case 'STOP':
      return calledTools ? 'tool_calls' : 'stop';
    case 'MAX_TOKENS':
      return 'length';
    case 'SAFETY':
    case 'RECITATION':
    case 'BLOCKLIST':
    case 'PROHIBITED_CONTENT':
    case 'SPII':
    case 'IMAGE_SAFETY':
      return 'content_filter';
    default:
      // LANGUAGE, OTHER, MALFORMED_FUNCTION_CALL, ...: the turn ended without a better OpenAI name.
      return calledTools ? 'tool_calls' : 'stop';
  }
}

export function toUsage(usage: GeminiUsage): Usage {
  const prompt = (usage.promptTokenCount ?? 0) + (usage.toolUsePromptTokenCount ?? 0);
  // Thinking tokens are billed as output, as OpenAI's reasoning tokens are counted in completion_tokens.
  const completion = (usage.candidatesTokenCount ?? 0) + (usage.thoughtsTokenCount ?? 0);
  const out: Usage = {
    prompt_tokens: prompt,
    completion_tokens: completion,
    total_tokens: usage.totalTokenCount ?? prompt + completion,
  };
  if (usage.cachedContentTokenCount) out.prompt_tokens_details = { cached_tokens: usage.cachedContentTokenCount };
  if (usage.thoughtsTokenCount) out.completion_tokens_details = { reasoning_tokens: usage.thoughtsTokenCount };
  return out;
}

/** A prompt Gemini refused has no candidates, only promptFeedback.blockReason. */
export function checkPromptBlocked(answer: GeminiAnswer, target: string): void {
  const reason = answer.promptFeedback?.blockReason;
  if (!reason || (answer.candidates && answer.candidates.length > 0)) return;
  throw new HeddleError({
    status: 400,
    type: 'invalid_request_error',
    message: `Target '${target}' blocked the prompt (blockReason ${reason}).`,
    target,
    code: 'content_filter',
  });
}

export function randomId(prefix: string): string {
  return `${prefix}${crypto.randomUUID().replaceAll('-', '')}`;
}

