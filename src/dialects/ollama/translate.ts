import type {
  ChatChunk,
  ChatCompletion,
  ChatMessage,
  ChatRequest,
  ContentPart,
  EmbeddingsResponse,
  FinishReason,
  ResponseFormat,
  ToolCall,
} from '../openai/schema.js';
import type {
  OllamaChatChunk,
  OllamaChatRequest,
  OllamaFormat,
  OllamaGenerateChunk,
  OllamaGenerateRequest,
  OllamaMessage,
  OllamaOptions,
  OllamaTimings,
  OllamaToolCall,
} from './wire.js';
import { argumentsObject } from '../../json.js';

// Ollama native wire <-> the canonical (OpenAI) request and answers. Pure apart from the stream translator's state.

export function chatToCanonical(req: OllamaChatRequest, model: string): ChatRequest {
  const out: ChatRequest = {
    model,
    messages: toMessages(req.messages),
    ...fromOptions(req.options),
    stream: req.stream !== false,
  };
  const format = toResponseFormat(req.format);
  if (format) out.response_format = format;
  if (req.tools && req.tools.length > 0) {
    out.tools = req.tools.map((t) => ({
      type: 'function' as const,
      function: {
        name: t.function.name,
        ...(t.function.description ? { description: t.function.description } : {}),
        parameters: t.function.parameters ?? { type: 'object', properties: {} },
      },
    }));
  }
  if (out.stream) out.stream_options = { include_usage: true };
  return out;
}

export function generateToCanonical(req: OllamaGenerateRequest, model: string): ChatRequest {
  const messages: ChatMessage[] = [];
  if (req.system) messages.push({ role: 'system', content: req.system });
  messages.push({ role: 'user', content: withImages(req.prompt, req.images) });
  const out: ChatRequest = { model, messages, ...fromOptions(req.options), stream: req.stream !== false };
  const format = toResponseFormat(req.format);
  if (format) out.response_format = format;
  if (out.stream) out.stream_options = { include_usage: true };
  return out;
}

function fromOptions(options: OllamaOptions | null | undefined): Partial<ChatRequest> {
  if (!options) return {};
  const out: Partial<ChatRequest> = {};
  if (options.temperature != null) out.temperature = options.temperature;
  if (options.top_p != null) out.top_p = options.top_p;
  // num_predict -1 (until the context fills) and -2 (until stop) mean "no limit".
  if (options.num_predict != null && options.num_predict > 0) out.max_tokens = options.num_predict;
  if (options.seed != null) out.seed = options.seed;
  if (options.stop != null) out.stop = typeof options.stop === 'string' ? options.stop : options.stop.slice(0, 4);
  if (options.presence_penalty != null) out.presence_penalty = options.presence_penalty;
  if (options.frequency_penalty != null) out.frequency_penalty = options.frequency_penalty;
  return out;
}

function toResponseFormat(format: OllamaFormat): ResponseFormat | undefined {
  if (format == null || format === '') return undefined;
  if (format === 'json') return { type: 'json_object' };
  return { type: 'json_schema', json_schema: { name: 'ollama_format', schema: format, strict: true } };
}

/**
 * Ollama tool calls carry no ids and its tool results name the tool, not the call; OpenAI needs both linked by
 * id. Each call gets an id and each tool message is paired with the oldest unanswered call of its tool name
 * (or simply the oldest unanswered call).
 */
function toMessages(messages: OllamaMessage[]): ChatMessage[] {
  const out: ChatMessage[] = [];
  const pending: Array<{ id: string; name: string }> = [];
  let counter = 0;
  for (const m of messages) {
    const text = m.content ?? '';
    switch (m.role) {
      case 'system':
        out.push({ role: 'system', content: text });
        break;
      case 'user':
        out.push({ role: 'user', content: withImages(text, m.images) });
        break;
      case 'assistant': {
        const calls: ToolCall[] = (m.tool_calls ?? []).map((call) => {
          const id = call.id ?? `call_${counter++}`;
          pending.push({ id, name: call.function.name });
          return { id, type: 'function', function: { name: call.function.name, arguments: argumentsText(call.function.arguments) } };
        });
        out.push(calls.length > 0 ? { role: 'assistant', content: text === '' ? null : text, tool_calls: calls } : { role: 'assistant', content: text });
        break;
      }
      case 'tool': {
        let at = m.tool_call_id ? pending.findIndex((p) => p.id === m.tool_call_id) : -1;
        if (at === -1 && m.tool_name) at = pending.findIndex((p) => p.name === m.tool_name);
        if (at === -1 && pending.length > 0) at = 0;
        const id = at === -1 ? (m.tool_call_id ?? `call_${counter++}`) : (pending.splice(at, 1)[0]?.id ?? `call_${counter++}`);
        out.push({ role: 'tool', tool_call_id: id, content: text });
        break;
      }
    }
  }
  return out;
}

function argumentsText(args: Record<string, unknown> | string | undefined): string {
  if (args === undefined) return '{}';
  if (typeof args !== 'string') return JSON.stringify(args);
  try {
    JSON.parse(args);
    return args;
  } catch {
    return JSON.stringify(args);
  }
}

function withImages(text: string, images: string[] | null | undefined): string | ContentPart[] {
  if (!images || images.length === 0) return text;
  return [
    ...(text ? [{ type: 'text' as const, text }] : []),
    ...images.map((data) => ({ type: 'image_url' as const, image_url: { url: `data:${imageType(data)};base64,${data}` } })),
  ];
}

/** Ollama sends bare base64; the media type is read from the first bytes. */
function imageType(base64: string): string {
  if (base64.startsWith('iVBOR')) return 'image/png';
  if (base64.startsWith('R0lG')) return 'image/gif';
  if (base64.startsWith('UklG')) return 'image/webp';
  return 'image/jpeg';
}

// ---- answers -------------------------------------------------------------------------------------------

/** Ollama reports tool-calling turns as `stop` too. */
export function doneReason(reason: FinishReason | null | undefined): string {
  return reason === 'length' ? 'length' : 'stop';
}

export function toOllamaToolCalls(calls: ToolCall[] | undefined): OllamaToolCall[] | undefined {
  if (!calls || calls.length === 0) return undefined;
  return calls.map((call, index) => ({
    id: call.id,
    function: { index, name: call.function.name, arguments: argumentsObject(call.function.arguments) },
  }));
}

export function timings(elapsedMs: number, usage: { prompt_tokens: number; completion_tokens: number } | undefined): OllamaTimings {
  const total = Math.round(elapsedMs * 1e6);
  return {
    total_duration: total,
    load_duration: 0,
    prompt_eval_count: usage?.prompt_tokens ?? 0,
    prompt_eval_duration: 0,
    eval_count: usage?.completion_tokens ?? 0,
    eval_duration: total,
  };
}

export function chatFromCompletion(completion: ChatCompletion, model: string, createdAt: string, elapsedMs: number): OllamaChatChunk {
  const choice = completion.choices[0];
  const toolCalls = toOllamaToolCalls(choice?.message.tool_calls);
  return {
    model,
    created_at: createdAt,
    message: { role: 'assistant', content: choice?.message.content ?? '', ...(toolCalls ? { tool_calls: toolCalls } : {}) },
    done: true,
    done_reason: doneReason(choice?.finish_reason),
    ...timings(elapsedMs, completion.usage),
  };
}

export function generateFromCompletion(completion: ChatCompletion, model: string, createdAt: string, elapsedMs: number): OllamaGenerateChunk {
  const choice = completion.choices[0];
  return {
    model,
    created_at: createdAt,
    response: choice?.message.content ?? '',
    done: true,
    done_reason: doneReason(choice?.finish_reason),
    ...timings(elapsedMs, completion.usage),
  };
}

export function embedFromOpenAi(answer: EmbeddingsResponse): number[][] {
  return answer.data
    .slice()
    .sort((a, b) => a.index - b.index)
    .map((d) => (typeof d.embedding === 'string' ? decodeFloat32(d.embedding) : d.embedding));
}

function decodeFloat32(base64: string): number[] {
  const binary = atob(base64);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
  return [...new Float32Array(bytes.buffer, 0, Math.floor(bytes.length / 4))];
}

/**
 * OpenAI chunks -> Ollama stream objects. Text is forwarded as it arrives; tool calls are assembled from their
 * argument fragments and sent whole (as Ollama does), before the final `done` object with the counts.
 */
export class OllamaStreamTranslator {
  private readonly calls = new Map<number, { id: string; name: string; arguments: string }>();
  private finish: FinishReason | null = null;
  private usage: { prompt_tokens: number; completion_tokens: number } | undefined;

  constructor(
    private readonly model: string,
    private readonly now: () => string,
    private readonly kind: 'chat' | 'generate',
  ) {}

  push(chunk: ChatChunk): Array<OllamaChatChunk | OllamaGenerateChunk> {
    if (chunk.usage) this.usage = chunk.usage;
    const out: Array<OllamaChatChunk | OllamaGenerateChunk> = [];
    for (const choice of chunk.choices) {
      if (choice.index !== 0) continue;
      const content = choice.delta.content;
      if (content) out.push(this.piece(content));
      for (const delta of choice.delta.tool_calls ?? []) {
        const call = this.calls.get(delta.index) ?? { id: delta.id ?? `call_${delta.index}`, name: '', arguments: '' };
        if (delta.id) call.id = delta.id;
        if (delta.function?.name) call.name += delta.function.name;
        if (delta.function?.arguments) call.arguments += delta.function.arguments;
        this.calls.set(delta.index, call);
      }
      if (choice.finish_reason) this.finish = choice.finish_reason;
    }
    return out;
  }

  /** The objects that end a complete stream: any tool calls, then `done: true` with the counts. */
  end(elapsedMs: number): Array<OllamaChatChunk | OllamaGenerateChunk> {
    const out: Array<OllamaChatChunk | OllamaGenerateChunk> = [];
    const calls = [...this.calls.entries()].sort(([a], [b]) => a - b).map(([, c]) => c);
    const toolCalls = toOllamaToolCalls(calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.arguments } })));
    if (toolCalls && this.kind === 'chat') {
      out.push({ model: this.model, created_at: this.now(), message: { role: 'assistant', content: '', tool_calls: toolCalls }, done: false });
    }
    const last = { ...this.piece(''), done: true, done_reason: doneReason(this.finish), ...timings(elapsedMs, this.usage) };
    out.push(last);
    return out;
  }

  private piece(text: string): OllamaChatChunk | OllamaGenerateChunk {
    const head = { model: this.model, created_at: this.now(), done: false };
    return this.kind === 'chat' ? { ...head, message: { role: 'assistant', content: text } } : { ...head, response: text };
  }
}
