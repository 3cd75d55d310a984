import {
  chatChunkSchema,
  chatCompletionSchema,
  embeddingsResponseSchema,
  type ChatChunk,
  type ChatRequest,
} from '../../dialects/openai/schema.js';
import { plainChatChunk, plainChatCompletion } from '../../dialects/openai/plain.js';
import { HeddleError } from '../../errors.js';
import { withFields } from '../../fields.js';
import { sseBatches } from '../../stream/sse.js';
import type { UpstreamResponse } from '../http.js';
import type { CallContext, ProviderAdapter } from '../types.js';
import { brokenAnswer, parseEventJson, readJson, send, streamFailure } from '../upstream.js';

// OpenAI's wire, spoken by OpenAI, OpenRouter, Together, Ollama's /v1, FastLLM nodes and any compatible server.
// The request is the canonical one with the target's model id; unknown fields pass through untouched.

/** Where `/chat/completions` lives: kinds configured by server root get `/v1` appended. */
export function apiBase(ctx: CallContext): string {
  const { kind, url } = ctx.target;
  return kind === 'fastllm' || kind === 'ollama' ? `${url}/v1` : url;
}

export function openAiHeaders(ctx: CallContext): Record<string, string> {
  const headers = withFields<Record<string, string>>({ 'content-type': 'application/json' }, ctx.target.headers);
  if (ctx.target.apiKey !== undefined) headers.authorization = `Bearer ${ctx.target.apiKey}`;
  return headers;
}

export function postJson(ctx: CallContext, path: string, body: unknown): Promise<UpstreamResponse> {
  return send(ctx, { url: `${apiBase(ctx)}${path}`, method: 'POST', headers: openAiHeaders(ctx), body: JSON.stringify(body) });
}

/** The non-streaming request a target gets: its model id, and no stream options; unknown fields pass through. */
export function jsonBody(req: ChatRequest, model: string): ChatRequest {
  return withFields(req, { model, stream: false, stream_options: undefined });
}

export const openAiWireAdapter: ProviderAdapter = {
  async chat(req, ctx) {
    const res = await postJson(ctx, '/chat/completions', jsonBody(req, ctx.model));
    return readJson(ctx, res, chatCompletionSchema, plainChatCompletion);
  },

  async chatStream(req, ctx) {
    const res = await postJson(ctx, '/chat/completions', streamingBody(req, ctx.model));
    return readChunks(res, ctx);
  },

  async embeddings(req, ctx) {
    const res = await postJson(ctx, '/embeddings', withFields(req, { model: ctx.model }));
    return readJson(ctx, res, embeddingsResponseSchema);
  },
};

/** Usage is always requested upstream so the gateway can count tokens; it is dropped later if the client did not ask. */
export function streamingBody(req: ChatRequest, model: string): ChatRequest {
  return withFields(req, { model, stream: true, stream_options: { ...req.stream_options, include_usage: true } });
}

/**
 * OpenAI SSE -> validated chunks. A stream is complete at `[DONE]`, or at its end when every choice has finished
 * (upstream FastLLM servers end without `[DONE]`). Ending any other way is a broken stream and throws.
 */
export async function* readChunks(res: UpstreamResponse, ctx: CallContext): AsyncIterable<ChatChunk> {
  let finished = false;
  try {
    for await (const batch of sseBatches(res.chunks())) {
      for (const event of batch) {
        if (event.data === '[DONE]') return;
        const json = parseEventJson(ctx, event.data);
        if (typeof json === 'object' && json !== null && 'error' in json) throw streamError(ctx, json.error);
        const chunk = plainChatChunk(json) ?? zodChunk(ctx, json);
        if (chunk.choices.length > 0 && chunk.choices.every((c) => c.finish_reason)) finished = true;
        yield chunk;
      }
    }
  } catch (err) {
    throw streamFailure(ctx, err);
  }
  if (!finished) throw brokenAnswer(ctx, 'the stream ended before the answer finished');
}

function zodChunk(ctx: CallContext, json: unknown): ChatChunk {
  const parsed = chatChunkSchema.safeParse(json);
  if (!parsed.success) throw brokenAnswer(ctx, 'a stream chunk does not match the chat.completion.chunk shape');
  return parsed.data;
}

function streamError(ctx: CallContext, error: unknown): HeddleError {
  const message =
    typeof error === 'object' && error !== null && 'message' in error && typeof error.message === 'string'
      ? error.message
      : 'unknown error';
  return new HeddleError({
    status: 502,
    type: 'upstream_error',
    message: `Target '${ctx.target.name}' reported an error mid-stream: ${message}`,
    target: ctx.target.name,
    code: 'upstream_stream_error',
    retryable: true,
  });
}

