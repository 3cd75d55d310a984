/**
 * A fake Gemini API (generativelanguage v1beta) on loopback, speaking the documented wire format
 * (https://ai.google.dev/api/generate-content, https://ai.google.dev/api/embeddings,
 * https://ai.google.dev/gemini-api/docs/troubleshooting for error bodies).
 *
 *   const fake = await startFakeGemini();             // { url, requests, close }
 *   target = { kind: 'gemini', url: fake.url, apiKey: 'test-key', ... }
 *   ...
 *   await fake.close();
 *
 * Routes: POST /v1beta/models/{model}:generateContent, :streamGenerateContent (`?alt=sse` gives SSE with
 * `data: <GenerateContentResponse>\r\n\r\n` events; without it, one JSON array, as Google does) and
 * :batchEmbedContents. Errors use Google's shape `{"error":{"code","message","status"}}`.
 * It checks what the real API checks:
 *   - `x-goog-api-key` present (403 PERMISSION_DENIED otherwise) and equal to `options.apiKey` when given
 *     (400 INVALID_ARGUMENT "API key not valid");
 *   - body: only GenerateContentRequest fields (unknown names -> 400 "Invalid JSON payload received. Unknown
 *     name ..."), also inside generationConfig; non-empty `contents` with roles user/model and non-empty parts,
 *     each part exactly one of text / inlineData / functionCall / functionResponse; the function responses in a
 *     user turn answer, by name and count, the function calls of the model turn before it;
 *   - embeddings: every `requests[i].model` equals `models/{model}` and has `content.parts[].text`.
 *
 * Behaviour is chosen by the model name:
 *   echo          answers the text of the last user turn; `candidateCount` n gives n candidates
 *   tool          calls the first function declaration with sample args (string -> "Paris", number -> 1,
 *                 boolean -> true) and a thoughtSignature; when the last user turn carries functionResponse
 *                 parts it answers "tool result: <response JSON>" instead
 *   json          answers `{"echo":"<last user text>"}` as text
 *   blocked       answers promptFeedback.blockReason SAFETY and no candidates
 *   slow          echo after `options.slowMs` (default 1000 ms)
 *   error-<code>  answers status <code> with the matching Google status; 429 adds RetryInfo (retryDelay 1s)
 *                 and `retry-after: 1`
 *   stream-error  streams one chunk, then an SSE data line holding an error body (code 503)
 *   stream-break  streams one chunk without finishReason, then drops the connection (non-stream: drops it)
 *   anything else 404 NOT_FOUND
 * batchEmbedContents works for any model name except error-<code>: a deterministic vector per text, of
 * `outputDimensionality` (default 8) values. Usage counts are words. Every request is recorded in `requests`.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { listenOnLoopback, readRequest, type RecordedRequest } from './loopback.js';

export type { RecordedRequest } from './loopback.js';

export interface FakeGemini {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

export interface FakeGeminiOptions {
  apiKey?: string;
  slowMs?: number;
}

type Json = Record<string, unknown>;

const STATUS_NAMES: Record<number, string> = {
  400: 'INVALID_ARGUMENT',
  403: 'PERMISSION_DENIED',
  404: 'NOT_FOUND',
  429: 'RESOURCE_EXHAUSTED',
  500: 'INTERNAL',
  503: 'UNAVAILABLE',
  504: 'DEADLINE_EXCEEDED',
};

const REQUEST_FIELDS = new Set(['contents', 'tools', 'toolConfig', 'safetySettings', 'systemInstruction', 'generationConfig', 'cachedContent']);
const GENERATION_FIELDS = new Set([
  'stopSequences', 'responseMimeType', 'responseSchema', 'responseJsonSchema', 'responseModalities', 'candidateCount',
  'maxOutputTokens', 'temperature', 'topP', 'topK', 'seed', 'presencePenalty', 'frequencyPenalty', 'responseLogprobs',
  'logprobs', 'thinkingConfig', 'mediaResolution', 'speechConfig',
]);
const PART_KINDS = ['text', 'inlineData', 'fileData', 'functionCall', 'functionResponse'];

class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly details?: Json[]) {
    super(message);
  }
}

export async function startFakeGemini(options: FakeGeminiOptions = {}): Promise<FakeGemini> {
  const requests: RecordedRequest[] = [];
  let counter = 0;
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      if (err instanceof ApiError) return sendError(res, err.status, err.message, err.details);
      sendError(res, 500, err instanceof Error ? err.message : String(err));
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const recorded = await readRequest(req);
    const { headers, body } = recorded;
    requests.push(recorded);

    const url = new URL(req.url ?? '/', 'http://fake');
    const route = /^\/v1beta\/models\/([^/:]+):(generateContent|streamGenerateContent|batchEmbedContents)$/.exec(url.pathname);
    if (req.method !== 'POST' || !route) throw new ApiError(404, `Not found: ${req.method} ${req.url}`);
    const key = headers['x-goog-api-key'];
    if (!key) throw new ApiError(403, "Method doesn't allow unregistered callers (callers without established identity). Please use API Key or other form of API consumer identity to call this API.");
    if (options.apiKey !== undefined && key !== options.apiKey) throw new ApiError(400, 'API key not valid. Please pass a valid API key.');
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new ApiError(400, 'Invalid JSON payload received.');
    const model = decodeURIComponent(route[1] as string);
    const method = route[2] as string;

    const status = /^error-(\d{3})$/.exec(model)?.[1];
    if (status) {
      const code = Number(status);
      if (code === 429) {
        res.setHeader('retry-after', '1');
        throw new ApiError(429, 'Resource has been exhausted (e.g. check quota).', [
          { '@type': 'type.googleapis.com/google.rpc.RetryInfo', retryDelay: '1s' },
        ]);
      }
      throw new ApiError(code, `fake ${STATUS_NAMES[code] ?? 'error'} for model ${model}`);
    }

    if (method === 'batchEmbedContents') return embed(res, model, body as Json);
    const request = validate(body as Json);
    const sse = method === 'streamGenerateContent' && url.searchParams.get('alt') === 'sse';
    const stream = method === 'streamGenerateContent';
    if (model === 'slow') await new Promise((r) => setTimeout(r, options.slowMs ?? 1000));

    const contents = request.contents as Json[];
    const last = contents[contents.length - 1] as Json;
    const lastParts = (last.parts as Json[]) ?? [];
    const lastText = last.role === 'user' ? lastParts.filter((p) => typeof p.text === 'string').map((p) => p.text).join('\n') : '';
    const promptTokens = words(JSON.stringify(request.contents)) + words(JSON.stringify(request.systemInstruction ?? ''));
    const responseId = `fake-${++counter}`;
    const config = (request.generationConfig ?? {}) as Json;

    let parts: Json[];
    switch (model) {
      case 'echo':
      case 'slow':
        parts = [{ text: lastText || '(empty)' }];
        break;
      case 'json':
        parts = [{ text: JSON.stringify({ echo: lastText }) }];
        break;
      case 'tool': {
        const responses = lastParts.filter((p) => p.functionResponse);
        if (responses.length > 0) {
          parts = [{ text: `tool result: ${responses.map((p) => JSON.stringify((p.functionResponse as Json).response)).join('\n')}` }];
          break;
        }
        const declaration = ((request.tools as Json[] | undefined)?.[0]?.functionDeclarations as Json[] | undefined)?.[0];
        if (!declaration) throw new ApiError(400, 'model tool needs at least one function declaration');
        parts = [{ functionCall: { name: declaration.name, args: sampleArgs(declaration.parametersJsonSchema ?? declaration.parameters) }, thoughtSignature: `sig-${counter}` }];
        break;
      }
      case 'blocked': {
        const answer = { promptFeedback: { blockReason: 'SAFETY' }, usageMetadata: { promptTokenCount: promptTokens, totalTokenCount: promptTokens }, modelVersion: model, responseId };
        return stream ? sendStream(res, sse, [answer]) : sendJson(res, answer);
      }
      case 'stream-error':
      case 'stream-break': {
        if (!stream) {
          if (model === 'stream-break') return void req.socket.destroy();
          throw new ApiError(503, 'The model is overloaded. Please try again later.');
        }
        const first = { candidates: [{ content: { role: 'model', parts: [{ text: 'partial ' }] }, index: 0 }], modelVersion: model, responseId };
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(`data: ${JSON.stringify(first)}\r\n\r\n`);
        if (model === 'stream-error') {
          res.end(`data: ${JSON.stringify({ error: { code: 503, message: 'The model is overloaded. Please try again later.', status: 'UNAVAILABLE' } })}\r\n\r\n`);
        } else {
          setTimeout(() => res.socket?.destroy(), 20);
        }
        return;
      }
      default:
        throw new ApiError(404, `models/${model} is not found for API version v1beta, or is not supported for generateContent.`);
    }

    const count = typeof config.candidateCount === 'number' ? config.candidateCount : 1;
    const outputTokens = words(JSON.stringify(parts)) * count;
    const usageMetadata = { promptTokenCount: promptTokens, candidatesTokenCount: outputTokens, totalTokenCount: promptTokens + outputTokens };
    const candidates = (finished: boolean, chunkParts: Json[]) =>
      Array.from({ length: count }, (_, index) => ({
        content: { role: 'model', parts: chunkParts },
        ...(finished ? { finishReason: 'STOP' } : {}),
        index,
      }));

    if (!stream) {
      return sendJson(res, { candidates: candidates(true, parts), usageMetadata, modelVersion: model, responseId });
    }
    // Text arrives in slices, function calls whole; the last chunk has finishReason and the final usage.
    const slices: Json[][] = parts.flatMap((p) => (typeof p.text === 'string' ? splitText(p.text).map((text) => [{ text }]) : [[p]]));
    const events = slices.map((slice, i) => ({
      candidates: candidates(i === slices.length - 1, slice),
      usageMetadata: i === slices.length - 1 ? usageMetadata : { promptTokenCount: promptTokens, totalTokenCount: promptTokens },
      modelVersion: model,
      responseId,
    }));
    return sendStream(res, sse, events);
  }

  const { url, close } = await listenOnLoopback(server);
  return { url, requests, close };
}

function embed(res: ServerResponse, model: string, body: Json): void {
  const list = body.requests;
  if (!Array.isArray(list) || list.length === 0) throw new ApiError(400, '* BatchEmbedContentsRequest.requests: must not be empty');
  const embeddings = list.map((r: unknown, i) => {
    const request = r as Json;
    if (request.model !== `models/${model}`) {
      throw new ApiError(400, `* BatchEmbedContentsRequest.requests[${i}].model: model must be models/${model}`);
    }
    const parts = (request.content as Json | undefined)?.parts;
    if (!Array.isArray(parts) || parts.length === 0 || !parts.every((p: Json) => typeof p.text === 'string')) {
      throw new ApiError(400, `* BatchEmbedContentsRequest.requests[${i}].content.parts: text parts are required`);
    }
    const text = parts.map((p: Json) => p.text as string).join('');
    const size = typeof request.outputDimensionality === 'number' ? request.outputDimensionality : 8;
    return { values: vector(text, size) };
  });
  sendJson(res, { embeddings });
}

/** Deterministic unit-ish vector from the text, so equal texts embed equally. */
function vector(text: string, size: number): number[] {
  let h = 2166136261;
  for (const ch of text) h = Math.imul(h ^ (ch.codePointAt(0) ?? 0), 16777619) >>> 0;
  return Array.from({ length: size }, (_, i) => {
    h = Math.imul(h ^ (i + 1), 2654435761) >>> 0;
    return Math.round(((h / 0xffffffff) * 2 - 1) * 1e6) / 1e6;
  });
}

function validate(request: Json): Json {
  for (const key of Object.keys(request)) {
    if (!REQUEST_FIELDS.has(key)) throw new ApiError(400, `Invalid JSON payload received. Unknown name "${key}": Cannot find field.`);
  }
  const config = request.generationConfig as Json | undefined;
  for (const key of Object.keys(config ?? {})) {
    if (!GENERATION_FIELDS.has(key)) throw new ApiError(400, `Invalid JSON payload received. Unknown name "${key}" at 'generation_config': Cannot find field.`);
  }
  const contents = request.contents;
  if (!Array.isArray(contents) || contents.length === 0) throw new ApiError(400, '* GenerateContentRequest.contents: contents is not specified');
  let previousCalls: string[] = [];
  contents.forEach((c: unknown, i) => {
    const content = c as Json;
    if (content.role !== 'user' && content.role !== 'model') {
      throw new ApiError(400, `Please use a valid role: user, model. (contents[${i}].role)`);
    }
    const parts = content.parts;
    if (!Array.isArray(parts) || parts.length === 0) {
      throw new ApiError(400, `* GenerateContentRequest.contents[${i}].parts: contents.parts must not be empty.`);
    }
    const calls: string[] = [];
    const responses: string[] = [];
    parts.forEach((p: unknown, j) => {
      const part = p as Json;
      const kinds = PART_KINDS.filter((k) => part[k] !== undefined);
      if (kinds.length !== 1) throw new ApiError(400, `* GenerateContentRequest.contents[${i}].parts[${j}].data: required oneof field 'data' must have one initialized field`);
      if (part.functionCall) {
        if (content.role !== 'model') throw new ApiError(400, `contents[${i}].parts[${j}]: functionCall is only allowed in model turns`);
        calls.push((part.functionCall as Json).name as string);
      }
      if (part.functionResponse) {
        const response = part.functionResponse as Json;
        if (typeof response.name !== 'string' || typeof response.response !== 'object' || response.response === null) {
          throw new ApiError(400, `contents[${i}].parts[${j}].functionResponse: name and response are required`);
        }
        responses.push(response.name);
      }
    });
    if (responses.length > 0 && [...responses].sort().join() !== [...previousCalls].sort().join()) {
      throw new ApiError(400, 'Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.');
    }
    previousCalls = calls;
  });
  return request;
}

function sampleArgs(schema: unknown): Json {
  const properties = ((schema as Json | undefined)?.properties ?? {}) as Record<string, Json>;
  return Object.fromEntries(
    Object.entries(properties).map(([name, prop]) => {
      switch (String(prop.type).toLowerCase()) {
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

function sendJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify(body));
}

function sendStream(res: ServerResponse, sse: boolean, events: unknown[]): void {
  if (!sse) return sendJson(res, events);
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  for (const event of events) res.write(`data: ${JSON.stringify(event)}\r\n\r\n`);
  res.end();
}

function sendError(res: ServerResponse, status: number, message: string, details?: Json[]): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': 'application/json; charset=UTF-8' });
  res.end(JSON.stringify({ error: { code: status, message, status: STATUS_NAMES[status] ?? 'UNKNOWN', ...(details ? { details } : {}) } }));
}

