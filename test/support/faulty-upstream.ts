/**
 * Fault injection for the fuzz tests: one server answering every wire Heddle calls (OpenAI-compatible, which the
 * fastllm and ollama kinds speak under /v1; Anthropic Messages; Gemini generateContent, streamGenerateContent and
 * batchEmbedContents) with answers of the documented shape that a seeded Mutator has bent, or broken outright: cut
 * short, not JSON, an unexpected status, an event stream that stops, drops its connection or ends without its
 * terminator. The well-formed wires are fake-openai, fake-anthropic and fake-gemini's job.
 *
 * Targets point at a prefix per kind: /oai/v1, /fastllm, /ollama, /anthropic, /gemini.
 */
import { createServer, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody, type Listening } from './loopback.js';
import { Mutator, toText, type Json } from './mutate.js';

export async function startFaultyUpstream(seed: number): Promise<Listening> {
  const fuzz = new Mutator(seed);
  const server = createServer((req, res) => {
    void readBody(req).then((body) => answer(fuzz, req.url ?? '', body, res));
  });
  return listenOnLoopback(server);
}

const STATUSES = [201, 204, 400, 401, 404, 408, 413, 422, 429, 500, 502, 503, 529];

function answer(fuzz: Mutator, url: string, body: string, res: ServerResponse): void {
  const stream = /"stream"\s*:\s*true/.test(body) || url.includes(':streamGenerateContent');
  const status = fuzz.chance(0.08) ? fuzz.pick(STATUSES) : 200;
  const contentType = fuzz.chance(0.05) ? fuzz.pick(['text/html', 'text/plain']) : undefined;
  const send = (valid: Json) => sendJson(fuzz, res, status, contentType, valid);
  const events = (list: Json[], framing: 'openai' | 'anthropic' | 'gemini') => sendEvents(fuzz, res, contentType, list, framing);

  if (url.endsWith('/v1/models')) return send({ object: 'list', data: [{ id: 'm', object: 'model' }] });
  if (url.endsWith('/chat/completions')) return stream && status === 200 ? events(openAiChunks(fuzz), 'openai') : send(openAiCompletion(fuzz));
  if (url.endsWith('/embeddings')) {
    const native = url.startsWith('/fastllm') && fuzz.chance(0.5);
    return send(native ? { embedding: [0.1, 0.2] } : openAiEmbeddings());
  }
  if (url.endsWith('/v1/messages')) return stream && status === 200 ? events(anthropicEvents(fuzz), 'anthropic') : send(anthropicMessage(fuzz));
  if (url.includes(':streamGenerateContent') && status === 200) return events([geminiResponse(fuzz), geminiResponse(fuzz)], 'gemini');
  if (url.includes(':generateContent') || url.includes(':streamGenerateContent')) return send(geminiResponse(fuzz));
  if (url.includes(':batchEmbedContents')) return send({ embeddings: [{ values: [0.1, 0.2] }, { values: [0.3, 0.4] }] });
  res.writeHead(404, { 'content-type': 'application/json' });
  res.end('{"error":{"message":"no such path"}}');
}

/** Cut short, replaced by something that is not the answer, or left whole. */
function corrupt(fuzz: Mutator, text: string): string {
  return fuzz.pick([text.slice(0, Math.floor(text.length / 2)), '<html>oops</html>', '', `${text}garbage`, 'null', '[]', text, text]);
}

function sendJson(fuzz: Mutator, res: ServerResponse, status: number, contentType: string | undefined, valid: Json): void {
  if (status === 204) {
    res.writeHead(204).end();
    return;
  }
  const errorBody = fuzz.chance(0.5) ? fuzz.mutate({ error: { message: 'nope', type: 'x', code: 'y' } }) : undefined;
  const text = status >= 400 && errorBody !== undefined ? toText(errorBody) : corrupt(fuzz, toText(fuzz.chance(0.5) ? fuzz.mutate(valid) : valid));
  const retryAfter = status === 429 || status === 503 ? { 'retry-after': fuzz.pick(['1', '0', 'soon', '-5', '99999999999']) } : {};
  res.writeHead(status, { 'content-type': contentType ?? 'application/json', ...retryAfter });
  res.end(text);
}

function sendEvents(fuzz: Mutator, res: ServerResponse, contentType: string | undefined, list: Json[], framing: 'openai' | 'anthropic' | 'gemini'): void {
  res.writeHead(200, { 'content-type': contentType ?? 'text/event-stream' });
  const frames: string[] = [];
  for (const event of list) {
    let data = toText(fuzz.chance(0.15) ? fuzz.mutate(event) : event);
    if (fuzz.chance(0.03)) data = corrupt(fuzz, data);
    const name = framing === 'anthropic' ? `event: ${fuzz.chance(0.9) ? String((event as { type: string }).type) : fuzz.pick(['error', 'bogus', ''])}\n` : '';
    frames.push(`${name}data: ${data}\n\n`);
    if (fuzz.chance(0.02)) break;
  }
  if (framing === 'openai' && fuzz.chance(0.9)) frames.push('data: [DONE]\n\n');
  if (fuzz.chance(0.05)) frames.push(': comment\n\ndata: {broken\n\n');
  if (framing === 'anthropic' && fuzz.chance(0.05)) {
    frames.push('event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n');
  }
  const drop = fuzz.chance(0.05);
  const write = (i: number): void => {
    if (i === frames.length) {
      if (drop) res.destroy();
      else res.end();
      return;
    }
    res.write(frames[i]);
    setImmediate(() => write(i + 1));
  };
  write(0);
}

const toolCall = { id: 't1', type: 'function', function: { name: 'f', arguments: '{"a":1}' } };

function openAiCompletion(fuzz: Mutator): Json {
  const message = { role: 'assistant', content: fuzz.chance(0.5) ? '{"a":1}' : 'hi', ...(fuzz.chance(0.3) ? { tool_calls: [toolCall] } : {}) };
  return {
    id: 'c1',
    object: 'chat.completion',
    created: 1,
    model: 'm',
    choices: [{ index: 0, message, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 },
  };
}

function openAiChunks(fuzz: Mutator): Json[] {
  const tools = fuzz.chance(0.3)
    ? [{ tool_calls: [{ index: 0, id: 't1', type: 'function', function: { name: 'f', arguments: '' } }] }, { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }]
    : [];
  const deltas: Json[] = [{ role: 'assistant', content: '' }, { content: 'hi' }, ...tools, {}];
  return deltas.map((delta, i) => ({
    id: 'c1',
    object: 'chat.completion.chunk',
    created: 1,
    model: 'm',
    choices: [{ index: 0, delta, finish_reason: i === deltas.length - 1 ? 'stop' : null }],
    ...(i === deltas.length - 1 ? { usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 } } : {}),
  }));
}

function openAiEmbeddings(): Json {
  return {
    object: 'list',
    data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }, { object: 'embedding', index: 1, embedding: [0.3, 0.4] }],
    model: 'm',
    usage: { prompt_tokens: 1, total_tokens: 1 },
  };
}

function anthropicMessage(fuzz: Mutator): Json {
  return {
    id: 'msg_1',
    type: 'message',
    role: 'assistant',
    model: 'm',
    content: [{ type: 'text', text: 'hi' }, ...(fuzz.chance(0.3) ? [{ type: 'tool_use', id: 't1', name: 'f', input: { a: 1 } }] : [])],
    stop_reason: 'end_turn',
    stop_sequence: null,
    usage: { input_tokens: 1, output_tokens: 1 },
  };
}

function anthropicEvents(fuzz: Mutator): Json[] {
  const tool: Json[] = fuzz.chance(0.4)
    ? [
        { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 't1', name: 'f', input: {} } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"a":' } },
        { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '1}' } },
        { type: 'content_block_stop', index: 1 },
      ]
    : [];
  return [
    {
      type: 'message_start',
      message: { id: 'msg_1', type: 'message', role: 'assistant', model: 'm', content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 1, output_tokens: 0 } },
    },
    { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
    { type: 'ping' },
    { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'hi' } },
    { type: 'content_block_stop', index: 0 },
    ...tool,
    { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 2 } },
    { type: 'message_stop' },
  ];
}

function geminiResponse(fuzz: Mutator): Json {
  const call = fuzz.chance(0.3) ? [{ functionCall: { name: 'f', args: { a: 1 } } }] : [];
  return {
    candidates: [{ content: { role: 'model', parts: [{ text: 'hi' }, ...call] }, finishReason: 'STOP', index: 0 }],
    usageMetadata: { promptTokenCount: 1, candidatesTokenCount: 1, totalTokenCount: 2 },
    modelVersion: 'm',
  };
}
