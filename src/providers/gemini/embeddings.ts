import type { EmbeddingsRequest, EmbeddingsResponse } from '../../dialects/openai/schema.js';
import { invalidRequest } from '../../errors.js';
import type { GeminiEmbeddingsAnswer } from './wire.js';

// OpenAI embeddings <-> Gemini batchEmbedContents (https://ai.google.dev/api/embeddings). Pure.

export interface GeminiBatchEmbedRequest {
  requests: Array<{ model: string; content: { parts: Array<{ text: string }> }; outputDimensionality?: number }>;
}

export function toGeminiEmbedRequest(req: EmbeddingsRequest, model: string): GeminiBatchEmbedRequest {
  const inputs = typeof req.input === 'string' ? [req.input] : req.input;
  const texts = inputs.map((input, i) => {
    if (typeof input !== 'string') {
      throw invalidRequest('Gemini targets embed text only, not token ids.', typeof req.input === 'string' ? 'input' : `input[${i}]`);
    }
    return input;
  });
  return {
    requests: texts.map((text) => ({
      model: `models/${model}`,
      content: { parts: [{ text }] },
      ...(req.dimensions !== undefined ? { outputDimensionality: req.dimensions } : {}),
    })),
  };
}

export function fromGeminiEmbeddings(
  answer: GeminiEmbeddingsAnswer,
  model: string,
  encoding: 'float' | 'base64' = 'float',
): EmbeddingsResponse {
  return {
    object: 'list',
    data: answer.embeddings.map((e, index) => ({
      object: 'embedding',
      index,
      embedding: encoding === 'base64' ? toBase64Floats(e.values) : e.values,
    })),
    model,
    // Gemini's batch embedding answer carries no token counts.
    usage: { prompt_tokens: 0, total_tokens: 0 },
  };
}

/** OpenAI's base64 encoding: little-endian float32 bytes. */
export function toBase64Floats(values: number[]): string {
  const bytes = new Uint8Array(values.length * 4);
  const view = new DataView(bytes.buffer);
  values.forEach((v, i) => view.setFloat32(i * 4, v, true));
  let binary = '';
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
