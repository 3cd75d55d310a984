import type { ChatChunk } from '../../dialects/openai/schema.js';
import { HeddleError } from '../../errors.js';
import { sseBatches } from '../../stream/sse.js';
import type { UpstreamResponse } from '../http.js';
import type { CallContext, ProviderAdapter } from '../types.js';
import { brokenAnswer, parseEventJson, readJson, send, streamFailure } from '../upstream.js';
import { fromGeminiAnswer } from './answer.js';
import { fromGeminiEmbeddings, toGeminiEmbedRequest } from './embeddings.js';
import { toGeminiRequest } from './request.js';
import { GeminiStreamTranslator } from './stream.js';
import { geminiAnswerSchema, geminiEmbeddingsAnswerSchema, geminiErrorSchema, type GeminiAnswer } from './wire.js';

// Outbound adapter for the Gemini API: POST {url}/v1beta/models/{model}:generateContent,
// :streamGenerateContent?alt=sse and :batchEmbedContents.

export const GEMINI_DEFAULT_URL = 'https://generativelanguage.googleapis.com';

export { fromGeminiAnswer } from './answer.js';
export { fromGeminiEmbeddings, toGeminiEmbedRequest } from './embeddings.js';
export { toGeminiRequest } from './request.js';
export { GeminiStreamTranslator } from './stream.js';

export const geminiAdapter: ProviderAdapter = {
  async chat(req, ctx) {
    const res = await post(ctx, 'generateContent', toGeminiRequest(req));
    const answer = await readJson(ctx, res, geminiAnswerSchema);
    return fromGeminiAnswer(answer, { model: ctx.model, target: ctx.target.name });
  },

  async chatStream(req, ctx) {
    const res = await post(ctx, 'streamGenerateContent?alt=sse', toGeminiRequest(req));
    const translator = new GeminiStreamTranslator({
      includeUsage: req.stream_options?.include_usage === true,
      model: ctx.model,
      target: ctx.target.name,
    });
    return translateStream(ctx, res, translator);
  },

  async embeddings(req, ctx) {
    const res = await post(ctx, 'batchEmbedContents', toGeminiEmbedRequest(req, modelId(ctx.model)));
    const answer = await readJson(ctx, res, geminiEmbeddingsAnswerSchema);
    return fromGeminiEmbeddings(answer, ctx.model, req.encoding_format);
  },
};

/** Policies may name models as `gemini-2.5-flash` or `models/gemini-2.5-flash`. */
function modelId(model: string): string {
  return model.startsWith('models/') ? model.slice('models/'.length) : model;
}

function post(ctx: CallContext, method: string, body: unknown): Promise<UpstreamResponse> {
  return send(ctx, {
    url: `${ctx.target.url || GEMINI_DEFAULT_URL}/v1beta/models/${encodeURIComponent(modelId(ctx.model))}:${method}`,
    method: 'POST',
    headers: {
      ...ctx.target.headers,
      ...(ctx.target.apiKey ? { 'x-goog-api-key': ctx.target.apiKey } : {}),
      'content-type': 'application/json',
    },
    body: JSON.stringify(body),
  });
}

async function* translateStream(
  ctx: CallContext,
  res: UpstreamResponse,
  translator: GeminiStreamTranslator,
): AsyncIterable<ChatChunk> {
  try {
    for await (const batch of sseBatches(res.chunks())) {
      for (const sse of batch) yield* translator.push(parseEvent(ctx, sse.data));
    }
  } catch (err) {
    throw streamFailure(ctx, err);
  } finally {
    res.discard();
  }
  yield* translator.end();
}

/** One SSE data line: a GenerateContentResponse, or an error body when the stream fails after it started. */
function parseEvent(ctx: CallContext, data: string): GeminiAnswer {
  const json = parseEventJson(ctx, data);
  const failure = geminiErrorSchema.safeParse(json);
  if (failure.success) throw midStreamError(ctx, failure.data.error);
  const parsed = geminiAnswerSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw brokenAnswer(ctx, `a stream event does not match the expected shape at '${issue?.path.join('.') ?? ''}'`);
  }
  return parsed.data;
}

function midStreamError(ctx: CallContext, error: { code?: number | undefined; message: string; status?: string | undefined }): HeddleError {
  const status = error.code && error.code >= 400 && error.code <= 599 ? error.code : 502;
  return new HeddleError({
    status,
    type: status === 429 ? 'rate_limit_error' : 'upstream_error',
    message: `Target '${ctx.target.name}' reported an error mid-stream: ${error.status ?? status}: ${error.message}`,
    target: ctx.target.name,
    code: 'upstream_error',
    retryable: status === 429 || status >= 500,
  });
}
