import { invalidRequest } from '../../errors.js';
import type { ChatChunk, ChatCompletion, ChatMessage, ChatRequest, ContentPart, FinishReason, Tool, ToolCall, ToolChoice } from '../openai/schema.js';
import type {
  CountTokensRequest,
  InboundBlock,
  InboundMessage,
  MessagesAnswer,
  MessagesRequest,
  MessagesStreamEvent,
  MessagesUsage,
  OutboundBlock,
  StopReason,
} from './wire.js';
import { argumentsObject } from '../../json.js';

// Anthropic Messages (inbound) <-> the canonical (OpenAI) request and answers: the reverse of
// src/providers/anthropic. Pure apart from the stream translator's state.

export function toCanonical(req: MessagesRequest, model: string): ChatRequest {
  const messages: ChatMessage[] = [];
  const system = systemText(req.system);
  if (system) messages.push({ role: 'system', content: system });
  req.messages.forEach((m, i) => messages.push(...toMessages(m, i)));

  const out: ChatRequest = { model, messages, max_tokens: req.max_tokens };
  if (req.temperature !== undefined) out.temperature = req.temperature;
  if (req.top_p !== undefined) out.top_p = req.top_p;
  if (req.stop_sequences && req.stop_sequences.length > 0) {
    if (req.stop_sequences.length > 4) throw invalidRequest('At most 4 stop_sequences are supported.', 'stop_sequences');
    out.stop = req.stop_sequences;
  }
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map(toTool);
    const choice = toToolChoice(req.tool_choice);
    if (choice.choice) out.tool_choice = choice.choice;
    if (choice.parallel === false) out.parallel_tool_calls = false;
  }
  const format = req.output_config?.format ?? req.output_format;
  if (format) out.response_format = { type: 'json_schema', json_schema: { name: 'output', schema: format.schema, strict: true } };
  if (req.metadata?.user_id) out.user = req.metadata.user_id;
  if (req.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return out;
}

function systemText(system: MessagesRequest['system']): string {
  if (system === undefined) return '';
  return typeof system === 'string' ? system : system.map((b) => b.text).join('\n');
}

/** One Anthropic turn -> OpenAI messages: a user turn's tool_result blocks become `tool` messages, first. */
function toMessages(message: InboundMessage, i: number): ChatMessage[] {
  if (typeof message.content === 'string') return [{ role: message.role, content: message.content }];
  const param = `messages[${i}].content`;
  if (message.role === 'assistant') {
    const text: string[] = [];
    const calls: ToolCall[] = [];
    for (const block of message.content) {
      if (block.type === 'text') text.push(block.text);
      else if (block.type === 'tool_use') {
        calls.push({ id: block.id, type: 'function', function: { name: block.name, arguments: JSON.stringify(block.input) } });
      } else if (block.type === 'image' || block.type === 'tool_result') {
        throw invalidRequest(`Assistant turns cannot contain ${block.type} blocks.`, param);
      }
    }
    const content = text.join('');
    return [calls.length > 0 ? { role: 'assistant', content: content === '' ? null : content, tool_calls: calls } : { role: 'assistant', content }];
  }
  const tools: ChatMessage[] = [];
  const parts: ContentPart[] = [];
  message.content.forEach((block, j) => {
    switch (block.type) {
      case 'tool_result':
        tools.push({ role: 'tool', tool_call_id: block.tool_use_id, content: toolResultText(block, `${param}[${j}]`) });
        return;
      case 'text':
        parts.push({ type: 'text', text: block.text });
        return;
      case 'image':
        parts.push({ type: 'image_url', image_url: { url: imageUrl(block) } });
        return;
      case 'tool_use':
        throw invalidRequest('User turns cannot contain tool_use blocks.', `${param}[${j}]`);
      default:
        return; // thinking blocks
    }
  });
  const user: ChatMessage[] = [];
  if (parts.length > 0) {
    const onlyText = parts.every((p) => p.type === 'text');
    user.push({ role: 'user', content: onlyText ? parts.map((p) => (p.type === 'text' ? p.text : '')).join('\n') : parts });
  }
  return [...tools, ...user];
}

function toolResultText(block: Extract<InboundBlock, { type: 'tool_result' }>, param: string): string {
  const content = block.content ?? '';
  let text: string;
  if (typeof content === 'string') text = content;
  else {
    text = content
      .map((b, k) => {
        if (b.type !== 'text') throw invalidRequest('Tool results may only contain text here.', `${param}.content[${k}]`);
        return b.text;
      })
      .join('\n');
  }
  // OpenAI has no error flag on tool results; the model still has to know the call failed.
  return block.is_error ? `Error: ${text}` : text;
}

function imageUrl(block: Extract<InboundBlock, { type: 'image' }>): string {
  const source = block.source;
  return source.type === 'base64' ? `data:${source.media_type};base64,${source.data}` : source.url;
}

function toTool(tool: MessagesRequest['tools'] extends Array<infer T> | undefined ? T : never): Tool {
  return {
    type: 'function',
    function: {
      name: tool.name,
      ...(tool.description ? { description: tool.description } : {}),
      parameters: tool.input_schema,
      ...(tool.strict ? { strict: true } : {}),
    },
  };
}

function toToolChoice(choice: MessagesRequest['tool_choice']): { choice?: ToolChoice; parallel?: boolean } {
  const parallel = choice?.disable_parallel_tool_use === true ? false : undefined;
  switch (choice?.type) {
    case undefined:
    case 'auto':
      return { choice: 'auto', parallel };
    case 'any':
      return { choice: 'required', parallel };
    case 'none':
      return { choice: 'none' };
    case 'tool':
      if (!choice.name) throw invalidRequest("tool_choice of type 'tool' needs a name.", 'tool_choice.name');
      return { choice: { type: 'function', function: { name: choice.name } }, parallel };
  }
}

// ---- answers -------------------------------------------------------------------------------------------

export function stopReason(reason: FinishReason | null | undefined): StopReason | null {
  switch (reason) {
    case null:
    case undefined:
      return null;
    case 'length':
      return 'max_tokens';
    case 'tool_calls':
    case 'function_call':
      return 'tool_use';
    case 'content_filter':
      return 'refusal';
    case 'stop':
      return 'end_turn';
  }
}

export function messageId(id: string): string {
  return id.startsWith('msg_') ? id : `msg_${id.replace(/^chatcmpl-/, '')}`;
}

function toolUseId(id: string): string {
  return id.startsWith('toolu_') ? id : `toolu_${id.replace(/^call_/, '')}`;
}

export function toUsage(usage: { prompt_tokens: number; completion_tokens: number } | null | undefined): MessagesUsage {
  return {
    input_tokens: usage?.prompt_tokens ?? 0,
    output_tokens: usage?.completion_tokens ?? 0,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: 0,
  };
}

export function fromCompletion(completion: ChatCompletion, model: string): MessagesAnswer {
  const choice = completion.choices[0];
  const content: OutboundBlock[] = [];
  const text = choice?.message.content ?? '';
  const calls = choice?.message.tool_calls ?? [];
  if (text !== '' || calls.length === 0) content.push({ type: 'text', text });
  for (const call of calls) {
    content.push({ type: 'tool_use', id: toolUseId(call.id), name: call.function.name, input: argumentsObject(call.function.arguments) });
  }
  return {
    id: messageId(completion.id),
    type: 'message',
    role: 'assistant',
    model,
    content,
    stop_reason: stopReason(choice?.finish_reason) ?? 'end_turn',
    stop_sequence: null,
    usage: toUsage(completion.usage),
  };
}

/**
 * OpenAI chunks -> Anthropic stream events (https://docs.anthropic.com/en/docs/build-with-claude/streaming):
 * message_start and a ping first, then one content block per text run or tool call (start, deltas, stop),
 * then message_delta with the stop reason and usage, then message_stop.
 */
export class MessagesStreamTranslator {
  private started = false;
  private open: { index: number; kind: 'text' | 'tool'; toolIndex?: number } | undefined;
  private nextIndex = 0;
  private finish: FinishReason | null = null;
  private usage: { prompt_tokens: number; completion_tokens: number } | undefined;

  constructor(private readonly model: string) {}

  push(chunk: ChatChunk): MessagesStreamEvent[] {
    const out: MessagesStreamEvent[] = [];
    if (!this.started) out.push(...this.start(chunk.id));
    if (chunk.usage) this.usage = chunk.usage;
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue;
      const text = choice.delta.content;
      if (text) {
        if (this.open?.kind !== 'text') out.push(...this.openBlock({ type: 'text', text: '' }, 'text'));
        out.push({ type: 'content_block_delta', index: this.current(), delta: { type: 'text_delta', text } });
      }
      for (const call of choice.delta.tool_calls ?? []) {
        if (this.open?.kind !== 'tool' || this.open.toolIndex !== call.index) {
          const id = toolUseId(call.id ?? `call_${call.index}`);
          out.push(...this.openBlock({ type: 'tool_use', id, name: call.function?.name ?? '', input: {} }, 'tool', call.index));
        }
        const args = call.function?.arguments;
        if (args) out.push({ type: 'content_block_delta', index: this.current(), delta: { type: 'input_json_delta', partial_json: args } });
      }
      if (choice.finish_reason) this.finish = choice.finish_reason;
    }
    return out;
  }

  end(): MessagesStreamEvent[] {
    const out: MessagesStreamEvent[] = [];
    if (!this.started) out.push(...this.start('stream'));
    out.push(...this.closeBlock());
    const usage = toUsage(this.usage);
    out.push({
      type: 'message_delta',
      delta: { stop_reason: stopReason(this.finish) ?? 'end_turn', stop_sequence: null },
      usage: { input_tokens: usage.input_tokens, output_tokens: usage.output_tokens },
    });
    out.push({ type: 'message_stop' });
    return out;
  }

  private start(id: string): MessagesStreamEvent[] {
    this.started = true;
    const message: MessagesAnswer = {
      id: messageId(id),
      type: 'message',
      role: 'assistant',
      model: this.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: toUsage(undefined),
    };
    return [{ type: 'message_start', message }, { type: 'ping' }];
  }

  private openBlock(block: OutboundBlock, kind: 'text' | 'tool', toolIndex?: number): MessagesStreamEvent[] {
    const out = this.closeBlock();
    const index = this.nextIndex++;
    this.open = { index, kind, ...(toolIndex !== undefined ? { toolIndex } : {}) };
    out.push({ type: 'content_block_start', index, content_block: block });
    return out;
  }

  private closeBlock(): MessagesStreamEvent[] {
    if (!this.open) return [];
    const index = this.open.index;
    this.open = undefined;
    return [{ type: 'content_block_stop', index }];
  }

  private current(): number {
    return this.open?.index ?? 0;
  }
}

/** A rough count (about 4 characters a token) for /v1/messages/count_tokens: no tokenizer runs in the gateway. */
export function estimateTokens(req: CountTokensRequest): number {
  let chars = systemText(req.system).length;
  for (const m of req.messages) {
    if (typeof m.content === 'string') chars += m.content.length;
    else for (const b of m.content) chars += JSON.stringify(b).length;
    chars += 4;
  }
  for (const t of req.tools ?? []) chars += JSON.stringify(t).length;
  return Math.max(1, Math.ceil(chars / 4));
}
