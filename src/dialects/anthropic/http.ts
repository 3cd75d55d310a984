import type { Context, Hono } from 'hono';
import type { HeddleEnv } from '../../app.js';
import { authenticate, remoteAddressOf } from '../../auth/index.js';
import type { Deps } from '../../deps.js';
import { errorHeaders, type HeddleError } from '../../errors.js';
import { RequestTrace, runChat } from '../../spine.js';
import { encodeSseEvent } from '../../stream/sse.js';
import { decisionHeaders } from '../openai/serve.js';
import { parseJsonBody, validate } from '../openai/parse.js';
import type { ChatChunk } from '../openai/schema.js';
import { estimateTokens, fromCompletion, MessagesStreamTranslator, toCanonical } from './translate.js';
import { countTokensRequestSchema, messagesRequestSchema } from './wire.js';
import { linkAbort, type Aborter } from '../../abort.js';
import { streamResponse } from '../../stream/respond.js';

// The Anthropic dialect's HTTP edge: POST /v1/messages (JSON or Anthropic's SSE events) and
// /v1/messages/count_tokens (DeepFabric calls it to check a key). Errors use Anthropic's shape,
// `{"type":"error","error":{"type","message"}}`.

export function mountAnthropic(app: Hono<HeddleEnv>, deps: Deps): void {
  app.post('/v1/messages', async (c) => {
    const raw = validate(messagesRequestSchema, parseJsonBody(await c.req.text()));
    const req = toCanonical(raw, raw.model);
    const trace = new RequestTrace(deps, 'anthropic.messages', req.model, req.stream === true);
    const abort = linkAbort(c.req.raw.signal);
    try {
      const inbound = { endpoint: 'anthropic.messages', headers: c.req.raw.headers, signal: abort.signal, remoteAddress: remoteAddressOf(c.env) };
      const outcome = await runChat(deps, req, inbound, trace);
      const headers = { ...decisionHeaders(outcome.decision, outcome.target, trace.requestId), 'request-id': trace.requestId };
      if (outcome.kind === 'json') {
        trace.markFirstByte();
        trace.finish(200);
        return c.json(fromCompletion(outcome.completion, raw.model), 200, headers);
      }
      return sseResponse(outcome.chunks, new MessagesStreamTranslator(raw.model), trace, abort, headers);
    } catch (err) {
      throw trace.failed(err);
    }
  });

  app.post('/v1/messages/count_tokens', async (c) => {
    const raw = validate(countTokensRequestSchema, parseJsonBody(await c.req.text()));
    // No target is called, but the key is checked: clients use this endpoint to verify theirs.
    await authenticate(deps.policy().policy, {
      authorization: c.req.header('authorization') ?? null,
      apiKey: c.req.header('x-api-key') ?? null,
      remoteAddress: remoteAddressOf(c.env),
    });
    return c.json({ input_tokens: estimateTokens(raw) });
  });
}

/** Heddle error -> Anthropic error type (https://docs.anthropic.com/en/api/errors). */
export function anthropicErrorType(error: HeddleError): string {
  if (error.status === 413) return 'request_too_large';
  switch (error.type) {
    case 'invalid_request_error':
    case 'authentication_error':
    case 'permission_error':
    case 'not_found_error':
      return error.type;
    case 'rate_limit_error':
    case 'service_unavailable':
      return 'overloaded_error';
    case 'timeout_error':
      return 'timeout_error';
    default:
      return 'api_error';
  }
}

/**
 * Anthropic's error shape. A rate limit (429 from every target) becomes 503 + Retry-After, which DeepFabric
 * retries as a server error instead of failing fast on a quota it reads into the 429.
 */
export function anthropicErrorResponse(c: Context<HeddleEnv>, error: HeddleError): Response {
  const { status, headers } = errorHeaders(error, true);
  const message = error.param && !error.message.includes(error.param) ? `${error.param}: ${error.message}` : error.message;
  return c.json({ type: 'error', error: { type: anthropicErrorType(error), message } }, status as 400, headers);
}

function sseResponse(
  chunks: AsyncIterable<ChatChunk>,
  translator: MessagesStreamTranslator,
  trace: RequestTrace,
  abort: Aborter,
  headers: Record<string, string>,
): Response {
  const encode = (events: ReturnType<MessagesStreamTranslator['end']>) => events.map((event) => encodeSseEvent(event.type, event));
  return streamResponse(
    chunks,
    {
      contentType: 'text/event-stream; charset=utf-8',
      chunk: (chunk) => encode(translator.push(chunk)),
      end: () => encode(translator.end()),
      // After commit a failure is an `error` event and no message_stop, so no client mistakes it for an end.
      error: (error) => encodeSseEvent('error', { type: 'error', error: { type: anthropicErrorType(error), message: error.message } }),
    },
    trace,
    abort,
    headers,
  );
}

