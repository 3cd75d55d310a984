/**
 * A fake Anthropic Messages API on loopback, speaking the documented wire format
 * (https://docs.anthropic.com/en/api/messages, .../build-with-claude/streaming, .../api/errors).
 *
 *   const fake = await startFakeAnthropic();          // { url, requests, close }
 *   target = { kind: 'anthropic', url: fake.url, apiKey: 'test-key', ... }
 *   ...
 *   await fake.close();
 *
 * It checks what the real API checks and answers 4xx in Anthropic's error shape
 * (`{"type":"error","error":{"type","message"}}`) when a request is wrong:
 *   - POST /v1/messages only; `x-api-key` present (and equal to `options.apiKey` when given);
 *     `anthropic-version: 2023-06-01`; `content-type: application/json`;
 *   - body: only Messages API fields (an OpenAI-only field such as `n` or `response_format` is rejected);
 *     `model`, positive integer `max_tokens`, non-empty `messages` alternating user/assistant and starting with
 *     user; known, non-empty content blocks; each `tool_result` answering a `tool_use` of the previous assistant
 *     turn; `temperature` within 0..1.
 *
 * Behaviour is chosen by the model name (both `stream: true` and not, unless said otherwise):
 *   echo          answers the text of the last user turn ("(empty)" when it has none)
 *   tool          calls the first tool in `tools` with sample arguments (string -> "Paris", number -> 1,
 *                 boolean -> true); when the last user turn carries tool_result blocks it instead answers
 *                 "tool result: <content>" so a tool loop can finish
 *   json          answers `{"echo":"<last user text>"}` as text
 *   slow          echo after `options.slowMs` (default 1000 ms) before the first byte
 *   error-<code>  answers status <code> with the matching Anthropic error type; 429 and 529 add
 *                 `retry-after: 1`
 *   stream-error  streams message_start and one text delta, then an `error` event (overloaded_error)
 *   stream-break  streams message_start and one text delta, then drops the connection (non-stream: drops it)
 *   anything else 404 not_found_error
 * Usage counts are words, so tests can predict them. Every request is recorded in `requests` (parsed JSON body)
 * before it is checked.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readRequest, type RecordedRequest } from './loopback.js';

export type { RecordedRequest } from './loopback.js';

export interface FakeAnthropic {
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:41234 */
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface FakeAnthropicOptions {
  /** When set, `x-api-key` must equal it. */
  apiKey?: string;
  slowMs?: number;
}

type Json = Record<string, unknown>;

const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  402: 'billing_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  504: 'timeout_error',
  529: 'overloaded_error',
};

const REQUEST_FIELDS = new Set([
  'model', 'messages', 'max_tokens', 'system', 'temperature', 'top_p', 'top_k', 'stop_sequences', 'stream',
  'tools', 'tool_choice', 'metadata', 'output_config', 'thinking', 'service_tier', 'container', 'mcp_servers',
  'context_management',
]);

class ApiError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropic> {
  const requests: RecordedRequest[] = [];
  let counter = 0;
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (err instanceof ApiError) return sendError(res, err.status, err.message);
      sendError(res, 500, err instanceof Error ? err.message : String(err));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const recorded = await readRequest(req);
    const { headers, body } = recorded;
    requests.push(recorded);

    if (req.method !== 'POST' || req.url !== '/v1/messages') throw new ApiError(404, `Not found: ${req.method} ${req.url}`);
    const key = headers['x-api-key'];
    if (!key) throw new ApiError(401, 'x-api-key header is required');
    if (options.apiKey !== undefined && key !== options.apiKey) throw new ApiError(401, 'invalid x-api-key');
    if (headers['anthropic-version'] !== '2023-06-01') throw new ApiError(400, 'anthropic-version header is required');
    if (!headers['content-type']?.startsWith('application/json')) throw new ApiError(400, 'content-type must be application/json');
    const request = validate(body);
    const model = request.model as string;
    const stream = request.stream === true;
    const id = `msg_fake${String(++counter).padStart(6, '0')}`;

    const status = /^error-(\d{3})$/.exec(model)?.[1];
    if (status) {
      const code = Number(status);
      if (code === 429 || code === 529) res.setHeader('retry-after', '1');
      return sendError(res, code, `fake ${ERROR_TYPES[code] ?? 'api_error'} for model ${model}`);
    }
    if (model === 'slow') await new Promise((r) => setTimeout(r, options.slowMs ?? 1000));

    const messages = request.messages as Json[];
    const last = messages[messages.length - 1] as Json;
    const lastText = last.role === 'user' ? textOf(last.content) : '';
    const inputTokens = words(JSON.stringify(request.messages)) + words(typeof request.system === 'string' ? request.system : '');

    let blocks: Json[];
    let stopReason = 'end_turn';
    switch (model) {
      case 'echo':
      case 'slow':
        blocks = [{ type: 'text', text: lastText || '(empty)' }];
        break;
      case 'json':
        blocks = [{ type: 'text', text: JSON.stringify({ echo: lastText }) }];
        break;
      case 'tool': {
        const results = toolResults(last);
        if (results.length > 0) {
          blocks = [{ type: 'text', text: `tool result: ${results.join('\n')}` }];
          break;
        }
        const tool = (request.tools as Json[] | undefined)?.[0];
        if (!tool) throw new ApiError(400, 'model tool needs at least one tool in tools');
        blocks = [{ type: 'tool_use', id: `toolu_fake${counter}`, name: tool.name, input: sampleInput(tool.input_schema) }];
        stopReason = 'tool_use';
        break;
      }
      case 'stream-error':
      case 'stream-break':
        if (!stream) {
          if (model === 'stream-break') return void req.socket.destroy();
          return sendError(res, 529, 'Overloaded');
        }
        blocks = [{ type: 'text', text: 'partial answer' }];
        break;
      default:
        throw new ApiError(404, `model: ${model}`);
    }
    const outputTokens = blocks.reduce((n, b) => n + words(typeof b.text === 'string' ? b.text : JSON.stringify(b.input)), 0);
    const usage = { input_tokens: inputTokens, output_tokens: outputTokens, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 };

    if (!stream) {
      res.writeHead(200, { 'content-type': 'application/json', 'request-id': `req_${id}` });
      res.end(JSON.stringify({ id, type: 'message', role: 'assistant', model, content: blocks, stop_reason: stopReason, stop_sequence: null, usage }));
      return;
    }

    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', 'request-id': `req_${id}` });
    const event = (type: string, data: Json) => res.write(`event: ${type}\ndata: ${JSON.stringify({ type, ...data })}\n\n`);
    event('message_start', {
      message: { id, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { ...usage, output_tokens: 1 } },
    });
    event('ping', {});
    if (model === 'stream-error' || model === 'stream-break') {
      event('content_block_start', { index: 0, content_block: { type: 'text', text: '' } });
      event('content_block_delta', { index: 0, delta: { type: 'text_delta', text: 'partial ' } });
      if (model === 'stream-error') {
        event('error', { error: { type: 'overloaded_error', message: 'Overloaded' } });
        res.end();
      } else {
        // Let the bytes so far reach the client, then cut the connection mid-answer.
        setTimeout(() => res.socket?.destroy(), 20);
      }
      return;
    }
    blocks.forEach((block, index) => {
      if (block.type === 'text') {
        event('content_block_start', { index, content_block: { type: 'text', text: '' } });
        for (const piece of splitText(block.text as string)) event('content_block_delta', { index, delta: { type: 'text_delta', text: piece } });
      } else {
        event('content_block_start', { index, content_block: { type: 'tool_use', id: block.id, name: block.name, input: {} } });
        const json = JSON.stringify(block.input);
        const half = Math.floor(json.length / 2);
        event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: '' } });
        event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(0, half) } });
        event('content_block_delta', { index, delta: { type: 'input_json_delta', partial_json: json.slice(half) } });
      }
      event('content_block_stop', { index });
    });
    event('message_delta', { delta: { stop_reason: stopReason, stop_sequence: null }, usage: { output_tokens: outputTokens } });
    event('message_stop', {});
    res.end();
  }

  const { url, close } = await listenOnLoopback(server);
  return { url, requests, close };
}

function validate(body: unknown): Json {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'body must be a JSON object');
  const request = body as Json;
  for (const key of Object.keys(request)) {
    if (!REQUEST_FIELDS.has(key)) throw new ApiError(400, `${key}: Extra inputs are not permitted`);
  }
  if (typeof request.model !== 'string' || !request.model) throw new ApiError(400, 'model: Field required');
  if (!Number.isInteger(request.max_tokens) || (request.max_tokens as number) < 1) throw new ApiError(400, 'max_tokens: Field required');
  if (request.temperature !== undefined && (typeof request.temperature !== 'number' || request.temperature < 0 || request.temperature > 1)) {
    throw new ApiError(400, 'temperature: Input should be less than or equal to 1');
  }
  if (request.system !== undefined && typeof request.system !== 'string' && !Array.isArray(request.system)) {
    throw new ApiError(400, 'system: Input should be a valid string or list');
  }
  const messages = request.messages;
  if (!Array.isArray(messages) || messages.length === 0) throw new ApiError(400, 'messages: at least one message is required');
  let previousToolUses = new Set<string>();
  messages.forEach((m: unknown, i) => {
    const message = m as Json;
    const expected = i % 2 === 0 ? 'user' : 'assistant';
    if (message.role !== expected) throw new ApiError(400, `messages.${i}.role: roles must alternate between "user" and "assistant", starting with "user"`);
    const blocks = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : message.content;
    if (!Array.isArray(blocks) || blocks.length === 0) throw new ApiError(400, `messages.${i}.content: must be a non-empty string or list`);
    const toolUses = new Set<string>();
    blocks.forEach((b: unknown, j) => {
      const block = b as Json;
      const at = `messages.${i}.content.${j}`;
      switch (block.type) {
        case 'text':
          if (typeof block.text !== 'string' || block.text === '') throw new ApiError(400, `${at}.text: text content blocks must be non-empty`);
          break;
        case 'image': {
          const source = block.source as Json | undefined;
          const ok = source?.type === 'base64' ? typeof source.media_type === 'string' && typeof source.data === 'string' : source?.type === 'url' && typeof source.url === 'string';
          if (!ok) throw new ApiError(400, `${at}.source: invalid image source`);
          break;
        }
        case 'tool_use':
          if (message.role !== 'assistant') throw new ApiError(400, `${at}: tool_use blocks are only allowed in assistant messages`);
          if (typeof block.id !== 'string' || typeof block.name !== 'string' || typeof block.input !== 'object' || block.input === null || Array.isArray(block.input)) {
            throw new ApiError(400, `${at}: tool_use needs id, name and an object input`);
          }
          toolUses.add(block.id);
          break;
        case 'tool_result':
          if (message.role !== 'user') throw new ApiError(400, `${at}: tool_result blocks are only allowed in user messages`);
          if (!previousToolUses.has(block.tool_use_id as string)) {
            throw new ApiError(400, `${at}: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${String(block.tool_use_id)}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`);
          }
          break;
        default:
          throw new ApiError(400, `${at}.type: unknown content block type ${String(block.type)}`);
      }
    });
    previousToolUses = toolUses;
  });
  return request;
}

function toolResults(message: Json): string[] {
  if (message.role !== 'user' || !Array.isArray(message.content)) return [];
  return (message.content as Json[]).filter((b) => b.type === 'tool_result').map((b) => textOf(b.content));
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (!Array.isArray(content)) return '';
  return (content as Json[]).filter((b) => b.type === 'text').map((b) => b.text as string).join('\n');
}

function sampleInput(schema: unknown): Json {
  const properties = ((schema as Json | undefined)?.properties ?? {}) as Record<string, Json>;
  return Object.fromEntries(
    Object.entries(properties).map(([name, prop]) => {
      switch (prop.type) {
        case 'string': return [name, 'Paris'];
        case 'number': case 'integer': return [name, 1];
        case 'boolean': return [name, true];
        default: return [name, null];
      }
    }),
  );
}

function splitText(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? [text];
}

function words(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function sendError(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify({ type: 'error', error: { type: ERROR_TYPES[status] ?? 'api_error', message } }));
}

