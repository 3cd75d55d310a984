import { linkAbort, type Aborter, type AbortLike } from '../../abort.js';
import { CACHE_HEADER, type CacheStatus } from '../../cache/index.js';
import type { Deps } from '../../deps.js';
import { errorHeaders, type HeddleError } from '../../errors.js';
import { RequestTrace, runChat, runEmbeddings, type Decision } from '../../spine.js';
import { StreamBody, streamHeaders, type StreamWriter } from '../../stream/respond.js';
import { encodeSseData, encodeSseEvent, SSE_DONE } from '../../stream/sse.js';
import { jsonAnswer, type EdgeAnswer } from '../answer.js';
import { parseJsonBody, validate } from './parse.js';
import { plainChatRequest } from './plain.js';
import { chatRequestSchema, embeddingsRequestSchema, type ChatRequest } from './schema.js';

// The OpenAI dialect's hot endpoints, free of any HTTP framework: the body text and the caller in, an EdgeAnswer
// out (JSON or SSE), a HeddleError thrown for anything else (openAiErrorAnswer gives OpenAI's shape). Hono mounts
// them (http.ts); the Node entry's fast path calls them straight from node:http.

/** The caller of one request, as the runtime knows it. */
export interface EdgeCall {
  /** Lower-case names; web `Headers` fit. */
  headers: Pick<Headers, 'get'>;
  /** Aborted when the client goes away. */
  signal: AbortLike;
  /**
   * The Aborter behind `signal` where the runtime owns one (Node): a stream's cancel aborts it. Without one, a
   * stream links one of its own to `signal`.
   */
  controller?: Aborter | undefined;
  remoteAddress: string | undefined;
}

export async function chatCompletions(deps: Deps, text: string, call: EdgeCall): Promise<EdgeAnswer> {
  const body = parseJsonBody(text);
  const req = plainChatRequest(body) ?? validate(chatRequestSchema, body);
  const trace = new RequestTrace(deps, 'chat', req.model, req.stream === true);
  // Only a stream needs a controller (its cancel aborts the upstream read); a JSON answer follows the client's
  // signal as is.
  const abort = req.stream === true ? (call.controller ?? linkAbort(call.signal)) : undefined;
  const signal = abort?.signal ?? call.signal;
  try {
    const outcome = await runChat(deps, req, { endpoint: 'chat', headers: call.headers, signal, remoteAddress: call.remoteAddress }, trace);
    const headers = decisionHeaders(outcome.decision, outcome.target, trace.requestId, outcome.cache);
    if (outcome.kind === 'json') {
      trace.markFirstByte();
      trace.finish(200);
      return jsonAnswer(200, outcome.completion, headers);
    }
    const body = new StreamBody(outcome.chunks, sseWriter(req), trace, abort ?? linkAbort(signal));
    return { kind: 'stream', headers: streamHeaders(SSE_CONTENT_TYPE, headers), body };
  } catch (err) {
    throw trace.failed(err);
  }
}

export async function embeddings(deps: Deps, text: string, call: EdgeCall): Promise<EdgeAnswer> {
  const req = validate(embeddingsRequestSchema, parseJsonBody(text));
  const trace = new RequestTrace(deps, 'embeddings', req.model, false);
  try {
    const out = await runEmbeddings(deps, req, { endpoint: 'embeddings', headers: call.headers, signal: call.signal, remoteAddress: call.remoteAddress }, trace);
    trace.markFirstByte();
    trace.finish(200);
    return jsonAnswer(200, out.answer, decisionHeaders(out.decision, out.target, trace.requestId, out.cache));
  } catch (err) {
    throw trace.failed(err);
  }
}

/** OpenAI's error shape. A 429 stays a 429 here: the openai SDKs and DeepFabric's OpenAI path retry it. */
export function openAiErrorAnswer(error: HeddleError): EdgeAnswer {
  const { status, headers } = errorHeaders(error, false);
  return jsonAnswer(status, error.toJSON(), headers);
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

const SSE_CONTENT_TYPE = 'text/event-stream; charset=utf-8';

/**
 * Committed chunks as SSE, one event per chunk, ending with `data: [DONE]`, or with an `error` event and no
 * `[DONE]` after a failure. Usage is always requested upstream; it reaches the client only when asked.
 */
function sseWriter(req: ChatRequest): StreamWriter {
  const wantsUsage = req.stream_options?.include_usage === true;
  return {
    contentType: SSE_CONTENT_TYPE,
    chunk: (chunk) => {
      if (!wantsUsage) {
        if (chunk.choices.length === 0) return [];
        if (chunk.usage !== undefined) delete chunk.usage;
      }
      return [encodeSseData(chunk)];
    },
    end: () => [SSE_DONE],
    error: (error) => encodeSseEvent('error', error.toJSON()),
  };
}
