import type { Context, Hono } from 'hono';
import type { HeddleEnv } from '../../app.js';
import { remoteAddressOf } from '../../auth/index.js';
import type { Deps } from '../../deps.js';
import { errorHeaders, HeddleError } from '../../errors.js';
import { matchRoute } from '../../routing/route.js';
import { RequestTrace, runChat, runEmbeddings, type Inbound } from '../../spine.js';
import { decisionHeaders } from '../openai/serve.js';
import { parseJsonBody, validate } from '../openai/parse.js';
import type { ChatChunk, ChatRequest } from '../openai/schema.js';
import {
  chatFromCompletion,
  chatToCanonical,
  embedFromOpenAi,
  generateFromCompletion,
  generateToCanonical,
  OllamaStreamTranslator,
} from './translate.js';
import {
  ollamaChatRequestSchema,
  ollamaEmbedRequestSchema,
  ollamaGenerateRequestSchema,
  ollamaShowRequestSchema,
  type OllamaModelDetails,
} from './wire.js';
import { linkAbort, type Aborter, type AbortLike } from '../../abort.js';
import { streamResponse } from '../../stream/respond.js';
import { isRecord } from '../../json.js';

// The Ollama dialect's HTTP edge: /api/chat, /api/generate, /api/embed (and the legacy /api/embeddings),
// /api/show, /api/tags, /api/ps, /api/version. Requests run through the same spine as OpenAI ones; answers are
// Ollama's JSON, streams are NDJSON (one object per line, not SSE), errors are `{"error": "..."}`.

/** The Ollama API version reported to clients (they gate features on it). */
export const OLLAMA_VERSION = '0.12.6';

const NDJSON = 'application/x-ndjson';

export function mountOllama(app: Hono<HeddleEnv>, deps: Deps): void {
  app.post('/api/chat', async (c) => {
    const raw = validate(ollamaChatRequestSchema, await body(c));
    const model = modelName(deps, raw.model);
    return chat(c, deps, chatToCanonical(raw, model), raw.model, 'chat');
  });

  app.post('/api/generate', async (c) => {
    const raw = validate(ollamaGenerateRequestSchema, await body(c));
    const model = modelName(deps, raw.model);
    // An empty prompt loads the model in Ollama; here there is nothing to load.
    if (raw.prompt === '' && !raw.system) {
      return c.json({ model: raw.model, created_at: new Date().toISOString(), response: '', done: true, done_reason: 'load' });
    }
    return chat(c, deps, generateToCanonical(raw, model), raw.model, 'generate');
  });

  app.post('/api/embed', async (c) => {
    const raw = validate(ollamaEmbedRequestSchema, await body(c));
    const started = deps.now();
    const out = await embed(c, deps, raw.model, raw.input, raw.dimensions ?? undefined);
    const elapsed = Math.round((deps.now() - started) * 1e6);
    return c.json(
      {
        model: raw.model,
        embeddings: embedFromOpenAi(out.answer),
        total_duration: elapsed,
        load_duration: 0,
        prompt_eval_count: out.answer.usage?.prompt_tokens ?? 0,
      },
      200,
      out.headers,
    );
  });

  // The pre-0.3 endpoint some clients still call: one prompt, one vector.
  app.post('/api/embeddings', async (c) => {
    const raw = await body(c);
    const parsed = validate(ollamaEmbedRequestSchema, { ...(isRecord(raw) ? raw : {}), input: isRecord(raw) ? (raw.prompt ?? raw.input) : undefined });
    const out = await embed(c, deps, parsed.model, parsed.input, undefined);
    return c.json({ embedding: embedFromOpenAi(out.answer)[0] ?? [] }, 200, out.headers);
  });

  app.post('/api/show', async (c) => {
    const raw = validate(ollamaShowRequestSchema, await body(c));
    const name = raw.model ?? raw.name ?? '';
    const model = modelName(deps, name);
    const route = knownRoute(deps, model, name);
    return c.json({
      license: '',
      modelfile: `# Served by Heddle (route ${route})\nFROM ${model}\n`,
      parameters: '',
      template: '{{ .Prompt }}',
      details: DETAILS,
      model_info: {
        'general.architecture': 'heddle',
        'general.basename': model,
        'general.parameter_count': 0,
        'heddle.route': route,
      },
      capabilities: ['completion', 'tools', 'embedding'],
      modified_at: EPOCH,
    });
  });

  app.get('/api/tags', (c) => {
    const models = deps.policy().policy.exposedModels.map((id) => {
      const name = id.includes(':') ? id : `${id}:latest`;
      return { name, model: name, modified_at: EPOCH, size: 0, digest: '', details: DETAILS };
    });
    return c.json({ models });
  });

  app.get('/api/ps', (c) => c.json({ models: [] }));
  app.get('/api/version', (c) => c.json({ version: OLLAMA_VERSION }));
}

const EPOCH = '1970-01-01T00:00:00Z';
const DETAILS: OllamaModelDetails = {
  parent_model: '',
  format: 'heddle',
  family: 'heddle',
  families: ['heddle'],
  parameter_size: '',
  quantization_level: '',
};

async function chat(c: Context<HeddleEnv>, deps: Deps, req: ChatRequest, clientModel: string, kind: 'chat' | 'generate'): Promise<Response> {
  const trace = new RequestTrace(deps, `ollama.${kind}`, req.model, req.stream === true);
  const abort = linkAbort(c.req.raw.signal);
  const started = deps.now();
  try {
    const outcome = await runChat(deps, req, inbound(c, `ollama.${kind}`, abort.signal), trace);
    const headers = decisionHeaders(outcome.decision, outcome.target, trace.requestId);
    if (outcome.kind === 'json') {
      trace.markFirstByte();
      trace.finish(200);
      const createdAt = new Date().toISOString();
      const elapsed = deps.now() - started;
      const answer =
        kind === 'chat'
          ? chatFromCompletion(outcome.completion, clientModel, createdAt, elapsed)
          : generateFromCompletion(outcome.completion, clientModel, createdAt, elapsed);
      return c.json(answer, 200, headers);
    }
    const translator = new OllamaStreamTranslator(clientModel, () => new Date().toISOString(), kind);
    return ndjsonResponse(outcome.chunks, translator, trace, abort, headers, () => deps.now() - started);
  } catch (err) {
    throw trace.failed(err);
  }
}

async function embed(c: Context<HeddleEnv>, deps: Deps, model: string, input: string | string[], dimensions: number | undefined) {
  const req = { model: modelName(deps, model), input, encoding_format: 'float' as const, ...(dimensions ? { dimensions } : {}) };
  const trace = new RequestTrace(deps, 'ollama.embed', req.model, false);
  try {
    const out = await runEmbeddings(deps, req, inbound(c, 'ollama.embed', c.req.raw.signal), trace);
    trace.markFirstByte();
    trace.finish(200);
    return { answer: out.answer, headers: decisionHeaders(out.decision, out.target, trace.requestId) };
  } catch (err) {
    throw trace.failed(err);
  }
}

function inbound(c: Context<HeddleEnv>, endpoint: string, signal: AbortLike): Inbound {
  return { endpoint, headers: c.req.raw.headers, signal, remoteAddress: remoteAddressOf(c.env) };
}

/**
 * Ollama names carry a tag (`name:latest`); the gateway's aliases usually do not. `x:latest` means `x` unless
 * the policy exposes the tagged name itself.
 */
export function modelName(deps: Deps, name: string): string {
  if (!name.endsWith(':latest')) return name;
  return deps.policy().policy.exposedModels.includes(name) ? name : name.slice(0, -':latest'.length);
}

function knownRoute(deps: Deps, model: string, asked: string): string {
  const route = matchRoute(deps.policy().policy, model);
  if (route === undefined) {
    throw new HeddleError({ status: 404, type: 'not_found_error', code: 'model_not_found', message: `model '${asked}' not found` });
  }
  return route.name;
}

/** The request's JSON (its size was checked by the app's body limit on /api/*). */
async function body(c: Context<HeddleEnv>): Promise<unknown> {
  return parseJsonBody(await c.req.text());
}

/**
 * Ollama's error shape. A rate limit (429 from every target) becomes 503 + Retry-After: Ollama clients and
 * DeepFabric's Ollama path retry 5xx, not 429.
 */
export function ollamaErrorResponse(c: Context<HeddleEnv>, error: HeddleError): Response {
  const { status, headers } = errorHeaders(error, true);
  const message = error.param && !error.message.includes(error.param) ? `${error.message} (${error.param})` : error.message;
  return c.json({ error: message }, status as 400, headers);
}

function ndjsonResponse(
  chunks: AsyncIterable<ChatChunk>,
  translator: OllamaStreamTranslator,
  trace: RequestTrace,
  abort: Aborter,
  headers: Record<string, string>,
  elapsed: () => number,
): Response {
  const encoder = new TextEncoder();
  const line = (value: unknown) => encoder.encode(`${JSON.stringify(value)}\n`);
  return streamResponse(
    chunks,
    {
      contentType: NDJSON,
      chunk: (chunk) => translator.push(chunk).map(line),
      end: () => translator.end(elapsed()).map(line),
      // After commit an error is a final `{"error": ...}` line (as Ollama does), never a clean-looking `done`.
      error: (error) => line({ error: error.message }),
    },
    trace,
    abort,
    headers,
  );
}
