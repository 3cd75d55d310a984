import * as z from 'zod';
import { plainChatCompletion } from '../../dialects/openai/plain.js';
import { chatCompletionSchema, embeddingsResponseSchema, type EmbeddingsResponse } from '../../dialects/openai/schema.js';
import type { CallContext, ProviderAdapter } from '../types.js';
import { readJson, send } from '../upstream.js';
import { withFields } from '../../fields.js';
import { jsonBody, openAiHeaders, postJson, readChunks, streamingBody } from '../openai-wire/index.js';

// FastLLM nodes: this repo's `fastllm` and upstream FastLLM servers as they are. Upstream servers answer
// embeddings as `{embedding: [...]}`, end streams without `[DONE]` (readChunks accepts a finished stream), and
// reject any model id but the loaded one, so the id is checked against the node's /v1/models and replaced by the
// loaded model when the node does not know it.

const modelListSchema = z.looseObject({ data: z.array(z.looseObject({ id: z.string() })) });

/** Upstream FastLLM's embeddings shape; batches come back as a list of vectors. */
const fastllmEmbeddingSchema = z.union([
  embeddingsResponseSchema,
  z.looseObject({ embedding: z.union([z.array(z.number()), z.array(z.array(z.number()))]) }),
  z.looseObject({ embeddings: z.array(z.array(z.number())) }),
]);

const MODEL_LIST_TTL_MS = 60_000;

export function createFastllmAdapter(now: () => number = Date.now): ProviderAdapter {
  const known = new Map<string, { ids: string[]; at: number }>();

  async function modelFor(ctx: CallContext): Promise<string> {
    let entry = known.get(ctx.target.url);
    if (entry === undefined || now() - entry.at > MODEL_LIST_TTL_MS) {
      const res = await send(ctx, { url: `${ctx.target.url}/v1/models`, method: 'GET', headers: openAiHeaders(ctx) });
      const list = await readJson(ctx, res, modelListSchema);
      entry = { ids: list.data.map((m) => m.id), at: now() };
      known.set(ctx.target.url, entry);
    }
    return entry.ids.includes(ctx.model) || entry.ids.length === 0 ? ctx.model : (entry.ids[0] ?? ctx.model);
  }

  return {
    async chat(req, ctx) {
      const model = await modelFor(ctx);
      const res = await postJson(ctx, '/chat/completions', jsonBody(req, model));
      return readJson(ctx, res, chatCompletionSchema, plainChatCompletion);
    },

    async chatStream(req, ctx) {
      const model = await modelFor(ctx);
      const res = await postJson(ctx, '/chat/completions', streamingBody(req, model));
      return readChunks(res, ctx);
    },

    async embeddings(req, ctx) {
      const model = await modelFor(ctx);
      const res = await postJson(ctx, '/embeddings', withFields(req, { model }));
      return toOpenAiEmbeddings(await readJson(ctx, res, fastllmEmbeddingSchema), model, req.encoding_format);
    },
  };
}

/**
 * Any FastLLM embeddings answer -> OpenAI's list. Upstream servers ignore `encoding_format`, but the openai SDKs
 * ask for base64 by default and decode it, so float vectors are encoded when base64 was asked for.
 */
export function toOpenAiEmbeddings(
  answer: z.output<typeof fastllmEmbeddingSchema>,
  model: string,
  encoding: 'float' | 'base64' | undefined,
): EmbeddingsResponse {
  const openAi = embeddingsResponseSchema.safeParse(answer);
  if (openAi.success) return openAi.data;
  const single = z.object({ embedding: z.array(z.number()) }).safeParse(answer);
  const batch = z.object({ embedding: z.array(z.array(z.number())) }).safeParse(answer);
  const plural = z.object({ embeddings: z.array(z.array(z.number())) }).safeParse(answer);
  const vectors = single.success
    ? [single.data.embedding]
    : batch.success
      ? batch.data.embedding
      : plural.success
        ? plural.data.embeddings
        : [];
  return {
    object: 'list',
    data: vectors.map((v, index) => ({ object: 'embedding', index, embedding: encoding === 'base64' ? float32Base64(v) : v })),
    model,
  };
}

function float32Base64(vector: number[]): string {
  const bytes = new Uint8Array(new Float32Array(vector).buffer);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}
