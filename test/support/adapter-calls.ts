import { chatChunkSchema, chatRequestSchema, type ChatChunk, type ChatRequest } from '../../src/dialects/openai/schema.js';
import { HeddleError } from '../../src/errors.js';

// What the translating adapters' tests (Anthropic, Gemini) hand an adapter and read back from it.

/** A canonical chat request (validated as the endpoint would): one user message unless `body` says otherwise. */
export const chat = (body: Record<string, unknown>): ChatRequest =>
  chatRequestSchema.parse({ model: 'alias', messages: [{ role: 'user', content: 'Hello there' }], ...body });

/** Every chunk of a translated stream, each checked against the OpenAI chunk schema. */
export async function collect(stream: AsyncIterable<ChatChunk>): Promise<ChatChunk[]> {
  const out: ChatChunk[] = [];
  for await (const chunk of stream) out.push(chatChunkSchema.parse(chunk));
  return out;
}

/** The HeddleError a call rejects with; anything else (or no rejection) fails the test. */
export async function failure(promise: Promise<unknown>): Promise<HeddleError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof HeddleError) return err;
    throw err;
  }
  throw new Error('expected a HeddleError');
}
