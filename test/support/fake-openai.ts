/**
 * A fake OpenAI-compatible server on loopback (127.0.0.1, free port), speaking OpenAI's documented chat
 * completions, embeddings and models wire (https://platform.openai.com/docs/api-reference/chat). Used as the
 * upstream for gateway tests; behaviour is chosen by the model name the gateway sends:
 *
 *   echo           answers "echo: <last user text>"; streams it as one chunk per word
 *   tool           calls the first tool in `tools` with arguments {"city":"Paris"} (finish_reason tool_calls)
 *   json           answers the JSON text {"ok":true,"n":1}
 *   slow           echo after `slowMs` (default 1000) before the headers
 *   stall          streams a role chunk and one content chunk, then sends nothing more (never ends)
 *   error-<code>   answers HTTP <code> with OpenAI's error body; 429/503 add retry-after: 1
 *   stream-break   streams two content chunks, then destroys the connection (non-stream: destroys it)
 *   no-done        streams like echo but ends without `data: [DONE]` (as upstream FastLLM servers do)
 *   cut            streams one content chunk and ends cleanly without finish_reason or [DONE]
 *   hang           reads the request and never answers (no headers) until the client gives up
 *   flaky-<n>      the first <n> chat requests with this model name answer 500, later ones echo
 *   bad-sse        streams `data: {oops` (not JSON) before any content; non-stream: a 200 whose body is not JSON
 *   drip           echo, streamed one word every `dripMs` (default 20); non-stream answers after words * dripMs
 *   anything else  404 model_not_found
 *
 * `options.flavor: 'fastllm'` makes it behave like an upstream FastLLM server: embeddings answer
 * `{"embedding": [...]}`, streams end without [DONE], and any model id but `options.loadedModel` is rejected
 * with 404 (then the model name does not choose behaviour: the server echoes).
 * Every request is recorded (path, headers, parsed body) in `requests`, except the GETs a gateway's health probes
 * and model lookups make (/health, /v1/models, /v1/load, /api/tags), which go to `probes`: they run on a timer,
 * and would otherwise land at random between a test's request and its look at `requests`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readBody } from './loopback.js';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown> | undefined;
}

export interface FakeOpenAiOptions {
  flavor?: 'openai' | 'fastllm';
  loadedModel?: string;
  slowMs?: number;
  dripMs?: number;
  /** Listen on this port (a restarted node comes back where it was); 0 or absent: a free one. */
  port?: number;
}

export interface FakeOpenAi {
  url: string;
  /** Base URL as an OpenAI SDK would take it (url + /v1). */
  baseURL: string;
  requests: RecordedRequest[];
  /** GETs of /health, /v1/models, /v1/load and /api/tags (health probes, model lookups). */
  probes: RecordedRequest[];
  /** How many responses the client (the gateway) closed before they ended. */
  readonly abortedByClient: number;
  close(): Promise<void>;
}

export async function startFakeOpenAi(options: FakeOpenAiOptions = {}): Promise<FakeOpenAi> {
  const requests: RecordedRequest[] = [];
  const probes: RecordedRequest[] = [];
  let abortedByClient = 0;
  const served = new Map<string, number>();
  const server = createServer((req, res) => {
    res.on('close', () => {
      if (!res.writableEnded) abortedByClient++;
    });
    void handle(req, res, options, { requests, probes }, served).catch(() => res.destroy());
  });
  const { url, close } = await listenOnLoopback(server, options.port);
  return {
    url,
    baseURL: `${url}/v1`,
    requests,
    probes,
    get abortedByClient() {
      return abortedByClient;
    },
    close,
  };
}

const PROBE_PATHS: ReadonlySet<string> = new Set(['/health', '/v1/models', '/v1/load', '/api/tags']);


function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

function openAiError(res: ServerResponse, status: number, message: string, code: string | null = null): void {
  const headers: Record<string, string> = status === 429 || status === 503 ? { 'retry-after': '1' } : {};
  sendJson(res, status, { error: { message, type: status === 429 ? 'rate_limit_exceeded' : 'invalid_request_error', param: null, code } }, headers);
}

type Msg = { role: string; content?: unknown };

function lastUserText(body: Record<string, unknown>): string {
  const messages = (body.messages as Msg[] | undefined) ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i];
    if (m?.role !== 'user') continue;
    if (typeof m.content === 'string') return m.content;
    if (Array.isArray(m.content)) {
      return m.content.map((p: { type?: string; text?: string }) => (p.type === 'text' ? (p.text ?? '') : '')).join('');
    }
  }
  return '';
}

const words = (s: string) => s.split(/\s+/).filter(Boolean).length;

async function handle(
  req: IncomingMessage,
  res: ServerResponse,
  options: FakeOpenAiOptions,
  log: { requests: RecordedRequest[]; probes: RecordedRequest[] },
  served: Map<string, number>,
): Promise<void> {
  const raw = await readBody(req);
  let body: Record<string, unknown> | undefined;
  try {
    body = raw ? (JSON.parse(raw) as Record<string, unknown>) : undefined;
  } catch {
    body = undefined;
  }
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  const record = { method: req.method ?? 'GET', path, headers: req.headers, body };
  const isProbe = req.method === 'GET' && PROBE_PATHS.has(path);
  (isProbe ? log.probes : log.requests).push(record);
  const requests = log.requests;
  const fastllm = options.flavor === 'fastllm';
  const loaded = options.loadedModel ?? 'loaded-model';

  if (req.method === 'GET' && path === '/v1/models') {
    const ids = fastllm ? [loaded] : ['echo', 'tool', 'json'];
    return sendJson(res, 200, { object: 'list', data: ids.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })) });
  }
  if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' });
  if (body === undefined) return openAiError(res, 400, 'We could not parse the JSON body of your request.');

  const model = String(body.model ?? '');
  if (fastllm && model !== loaded) return openAiError(res, 404, `Model ${model} not found`, 'model_not_found');

  if (path === '/v1/embeddings') {
    const input = body.input;
    const texts = Array.isArray(input) ? input.map(String) : [String(input)];
    const vectors = texts.map((t) => [t.length, words(t), 1]);
    if (fastllm) return sendJson(res, 200, { embedding: Array.isArray(input) ? vectors : vectors[0] });
    const base64 = body.encoding_format === 'base64';
    return sendJson(res, 200, {
      object: 'list',
      data: vectors.map((v, index) => ({
        object: 'embedding',
        index,
        embedding: base64 ? Buffer.from(new Float32Array(v).buffer).toString('base64') : v,
      })),
      model,
      usage: { prompt_tokens: texts.reduce((n, t) => n + words(t), 0), total_tokens: texts.reduce((n, t) => n + words(t), 0) },
    });
  }
  if (path !== '/v1/chat/completions') return openAiError(res, 404, `Unknown path ${path}`);

  let behaviour = fastllm ? 'echo' : model;
  const flaky = /^flaky-(\d+)$/.exec(behaviour);
  if (flaky) {
    const n = (served.get(behaviour) ?? 0) + 1;
    served.set(behaviour, n);
    if (n <= Number(flaky[1])) return openAiError(res, 500, `fake upstream error 500 (flaky, ${n} of ${flaky[1]})`);
    behaviour = 'echo';
  }
  if (behaviour === 'hang') return new Promise<void>((resolve) => res.on('close', resolve));
  const errorMatch = /^error-(\d{3})$/.exec(behaviour);
  if (errorMatch) return openAiError(res, Number(errorMatch[1]), `fake upstream error ${errorMatch[1]}`);
  if (behaviour === 'slow') await new Promise((r) => setTimeout(r, options.slowMs ?? 1000));

  const text = lastUserText(body);
  const id = `chatcmpl-fake-${requests.length}`;
  const created = 1_700_000_000;
  const promptTokens = words(text);
  const stream = body.stream === true;

  if (behaviour === 'tool') {
    const tools = (body.tools as Array<{ function: { name: string } }> | undefined) ?? [];
    const name = tools[0]?.function.name ?? 'none';
    const call = { id: 'call_fake_1', type: 'function', function: { name, arguments: '{"city":"Paris"}' } };
    if (!stream) {
      return sendJson(res, 200, {
        id, object: 'chat.completion', created, model,
        choices: [{ index: 0, message: { role: 'assistant', content: null, tool_calls: [call] }, finish_reason: 'tool_calls', logprobs: null }],
        usage: { prompt_tokens: promptTokens, completion_tokens: 5, total_tokens: promptTokens + 5 },
      });
    }
    return streamChunks(res, id, created, model, body, [
      { delta: { role: 'assistant', content: null } },
      { delta: { tool_calls: [{ index: 0, id: call.id, type: 'function', function: { name, arguments: '' } }] } },
      { delta: { tool_calls: [{ index: 0, function: { arguments: '{"city":' } }] } },
      { delta: { tool_calls: [{ index: 0, function: { arguments: '"Paris"}' } }] } },
      { delta: {}, finish_reason: 'tool_calls' },
    ], promptTokens, 5, true);
  }

  const answer = behaviour === 'json' ? '{"ok":true,"n":1}' : `echo: ${text}`;
  const dripMs = options.dripMs ?? 20;
  if (!stream) {
    if (behaviour === 'stream-break') return void res.destroy();
    if (behaviour === 'bad-sse') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end('{oops');
    }
    if (behaviour === 'drip') await new Promise((r) => setTimeout(r, words(answer) * dripMs));
    return sendJson(res, 200, {
      id, object: 'chat.completion', created, model,
      choices: [{ index: 0, message: { role: 'assistant', content: answer, refusal: null }, finish_reason: 'stop', logprobs: null }],
      usage: { prompt_tokens: promptTokens, completion_tokens: words(answer), total_tokens: promptTokens + words(answer) },
    });
  }
  const pieces = answer.split(/(?<= )/);
  const deltas: Array<{ delta: Record<string, unknown>; finish_reason?: string }> = [
    { delta: { role: 'assistant', content: '' } },
    ...pieces.map((p) => ({ delta: { content: p } })),
    { delta: {}, finish_reason: 'stop' },
  ];
  if (behaviour === 'bad-sse') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.write(`data: ${JSON.stringify(chunk(id, created, model, deltas[0] ?? { delta: {} }))}\n\n`);
    return void res.end('data: {oops\n\n');
  }
  if (behaviour === 'drip') return dripChunks(res, id, created, model, deltas, dripMs);
  if (behaviour === 'stall' || behaviour === 'stream-break' || behaviour === 'cut') {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const head = deltas.slice(0, behaviour === 'stream-break' ? 3 : 2);
    for (const d of head) res.write(`data: ${JSON.stringify(chunk(id, created, model, d))}\n\n`);
    if (behaviour === 'stream-break') setTimeout(() => res.destroy(), 20);
    if (behaviour === 'cut') res.end();
    return;
  }
  return streamChunks(res, id, created, model, body, deltas, promptTokens, words(answer), !fastllm && behaviour !== 'no-done');
}

/** One chunk every `dripMs`, so a kill or a stall lands in the middle of the answer. */
async function dripChunks(
  res: ServerResponse,
  id: string,
  created: number,
  model: string,
  deltas: Array<{ delta: Record<string, unknown>; finish_reason?: string }>,
  dripMs: number,
): Promise<void> {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const d of deltas) {
    if (res.destroyed) return;
    res.write(`data: ${JSON.stringify(chunk(id, created, model, d))}\n\n`);
    await new Promise((r) => setTimeout(r, dripMs));
  }
  res.end('data: [DONE]\n\n');
}

function chunk(id: string, created: number, model: string, d: { delta: Record<string, unknown>; finish_reason?: string }) {
  return { id, object: 'chat.completion.chunk', created, model, choices: [{ index: 0, delta: d.delta, finish_reason: d.finish_reason ?? null, logprobs: null }] };
}

function streamChunks(
  res: ServerResponse,
  id: string,
  created: number,
  model: string,
  body: Record<string, unknown>,
  deltas: Array<{ delta: Record<string, unknown>; finish_reason?: string }>,
  promptTokens: number,
  completionTokens: number,
  sendDone: boolean,
): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  for (const d of deltas) res.write(`data: ${JSON.stringify(chunk(id, created, model, d))}\n\n`);
  const opts = body.stream_options as { include_usage?: boolean } | undefined;
  if (opts?.include_usage) {
    const usage = { prompt_tokens: promptTokens, completion_tokens: completionTokens, total_tokens: promptTokens + completionTokens };
    res.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, choices: [], usage })}\n\n`);
  }
  if (sendDone) res.write('data: [DONE]\n\n');
  res.end();
}
