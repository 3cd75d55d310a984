import type { Context, Hono } from 'hono';
import { remoteAddressOf } from '../../auth/index.js';
import { CACHE_HEADER, type CacheStatus } from '../../cache/index.js';
import type { Deps } from '../../deps.js';
import { mountExplain } from '../../explain/index.js';
import { errorHeaders, HeddleError, toHeddleError } from '../../errors.js';
import { RequestTrace, runChat, runEmbeddings, type Decision } from '../../spine.js';
import { encodeSseData, encodeSseEvent, SSE_DONE } from '../../stream/sse.js';
import type { HeddleEnv } from '../../app.js';
import { parseJsonBody, validate } from './parse.js';
import { chatRequestSchema, embeddingsRequestSchema, type ChatChunk, type ChatRequest } from './schema.js';
import { linkAbort } from '../../stream/abort.js';
import { streamResponse } from '../../stream/respond.js';

// The OpenAI dialect's HTTP edge: /v1/chat/completions, /v1/embeddings, /v1/models. Parses, runs the spine,
// writes JSON or SSE, and turns any HeddleError into OpenAI's error shape.

export function mountOpenAi(app: Hono<HeddleEnv>, deps: Deps): void {
  mountExplain(app, deps);

  app.post('/v1/chat/completions', async (c) => {
    const req = validate(chatRequestSchema, parseJsonBody(await c.req.text()));
    const trace = new RequestTrace(deps, 'chat', req.model, req.stream === true);
    // Only a stream needs a controller of its own (its cancel aborts the upstream read); a JSON answer follows the
    // client's signal as is.
    const abort = req.stream === true ? linkAbort(c.req.raw.signal) : undefined;
    const signal = abort?.signal ?? c.req.raw.signal;
    try {
      const outcome = await runChat(deps, req, { endpoint: 'chat', headers: c.req.raw.headers, signal, remoteAddress: remoteAddressOf(c.env) }, trace);
      if (outcome.kind === 'json') {
        trace.markFirstByte();
        trace.finish(200);
        return c.json(outcome.completion, 200, decisionHeaders(outcome.decision, outcome.target, trace.requestId, outcome.cache));
      }
      coalesceFirstWrites(c.env);
      return sseResponse(outcome.chunks, req, trace, abort ?? linkAbort(signal), decisionHeaders(outcome.decision, outcome.target, trace.requestId, outcome.cache));
    } catch (err) {
      const error = toHeddleError(err);
      trace.finish(error.status, error);
      throw error;
    }
  });

  app.post('/v1/embeddings', async (c) => {
    const req = validate(embeddingsRequestSchema, parseJsonBody(await c.req.text()));
    const trace = new RequestTrace(deps, 'embeddings', req.model, false);
    try {
      const out = await runEmbeddings(deps, req, { endpoint: 'embeddings', headers: c.req.raw.headers, signal: c.req.raw.signal, remoteAddress: remoteAddressOf(c.env) }, trace);
      trace.markFirstByte();
      trace.finish(200);
      return c.json(out.answer, 200, decisionHeaders(out.decision, out.target, trace.requestId, out.cache));
    } catch (err) {
      const error = toHeddleError(err);
      trace.finish(error.status, error);
      throw error;
    }
  });

  app.get('/v1/models', (c) => {
    const { policy } = deps.policy();
    return c.json({
      object: 'list',
      data: policy.exposedModels.map((id) => ({ id, object: 'model', created: 0, owned_by: 'heddle' })),
    });
  });

  app.get('/v1/models/:id', (c) => {
    const id = c.req.param('id');
    if (!deps.policy().policy.exposedModels.includes(id)) {
      throw new HeddleError({ status: 404, type: 'not_found_error', code: 'model_not_found', param: 'model', message: `The model '${id}' does not exist on this gateway.` });
    }
    return c.json({ id, object: 'model', created: 0, owned_by: 'heddle' });
  });
}

/** OpenAI's error shape. A 429 stays a 429 here: the openai SDKs and DeepFabric's OpenAI path retry it. */
export function openAiErrorResponse(c: Context<HeddleEnv>, error: HeddleError): Response {
  const { status, headers } = errorHeaders(error, false);
  return c.json(error.toJSON(), status as 400, headers);
}

/** `cache`: the cache stage's status (x-heddle-cache: hit, miss, coalesced, refresh or bypass). */
export function decisionHeaders(decision: Decision, target: string, requestId: string, cache?: CacheStatus): Record<string, string> {
  const headers: Record<string, string> = {
    'x-request-id': requestId,
    'x-heddle-route': decision.route.route.name,
    'x-heddle-target': target,
    'x-heddle-class': decision.privacy.class,
    'x-heddle-purpose': decision.purpose,
  };
  if (cache !== undefined) headers[CACHE_HEADER] = cache;
  return headers;
}

/**
 * Node: the stream's head (status line and headers, then the chunks read before commit, the first content among
 * them) leaves in one write instead of three. @hono/node-server flushes the headers on their own before the first
 * chunk, and each write wakes the client; corked until the end of this event-loop turn, they go out together.
 */
function coalesceFirstWrites(bindings: unknown): void {
  if (typeof bindings !== 'object' || bindings === null || !('outgoing' in bindings)) return;
  const outgoing = bindings.outgoing as { cork?: () => void; uncork?: () => void } | null;
  if (typeof outgoing?.cork !== 'function' || typeof outgoing.uncork !== 'function') return;
  outgoing.cork();
  setImmediate(() => outgoing.uncork?.());
}

/**
 * Committed chunks as SSE, one event per chunk, ending with `data: [DONE]`, or with an `error` event and no
 * `[DONE]` after a failure. Usage is always requested upstream; it reaches the client only when asked.
 */
function sseResponse(
  chunks: AsyncIterable<ChatChunk>,
  req: ChatRequest,
  trace: RequestTrace,
  abort: AbortController,
  headers: Record<string, string>,
): Response {
  const wantsUsage = req.stream_options?.include_usage === true;
  return streamResponse(
    chunks,
    {
      contentType: 'text/event-stream; charset=utf-8',
      chunk: (chunk) => {
        if (!wantsUsage) {
          if (chunk.choices.length === 0) return [];
          if (chunk.usage !== undefined) delete chunk.usage;
        }
        return [encodeSseData(chunk)];
      },
      end: () => [SSE_DONE],
      error: (error) => encodeSseEvent('error', error.toJSON()),
    },
    trace,
    abort,
    headers,
  );
}
