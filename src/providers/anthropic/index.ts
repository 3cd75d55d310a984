import * as z from 'zod';
import type { ChatChunk, ChatRequest } from '../../dialects/openai/schema.js';
import { HeddleError } from '../../errors.js';
import { sseBatches } from '../../stream/sse.js';
import type { UpstreamResponse } from '../http.js';
import type { CallContext, ProviderAdapter } from '../types.js';
import { brokenAnswer, parseEventJson, readJson, send, streamFailure } from '../upstream.js';
import { fromAnthropicAnswer } from './answer.js';
import { toAnthropicRequest } from './request.js';
import { AnthropicStreamTranslator } from './stream.js';
import { anthropicAnswerSchema, anthropicStreamEventSchema } from './wire.js';

// Outbound adapter for the Anthropic Messages API: POST {url}/v1/messages.

export const ANTHROPIC_DEFAULT_URL = 'https://api.anthropic.com';
export const ANTHROPIC_VERSION = '2023-06-01';

export { fromAnthropicAnswer } from './answer.js';
export { toAnthropicRequest } from './request.js';
export { AnthropicStreamTranslator } from './stream.js';

export const anthropicAdapter: ProviderAdapter = {
  async chat(req, ctx) {
    const res = await post(ctx, { ...req, stream: false });
    return fromAnthropicAnswer(await readJson(ctx, res, anthropicAnswerSchema));
  },

  async chatStream(req, ctx) {
    const res = await post(ctx, { ...req, stream: true });
    return translateStream(ctx, res, req.stream_options?.include_usage === true);
  },

  embeddings() {
    return Promise.reject(
      new HeddleError({
        status: 400,
        type: 'invalid_request_error',
        message: 'Anthropic has no embeddings API; route embeddings to another target.',
        param: 'model',
        code: 'unsupported_operation',
      }),
    );
  },
};

function post(ctx: CallContext, req: ChatRequest): Promise<UpstreamResponse> {
  const body = toAnthropicRequest(req, ctx.model);
  return send(ctx, {
    url: `${ctx.target.url || ANTHROPIC_DEFAULT_URL}/v1/messages`,
    method: 'POST',
    headers: {
      ...ctx.target.headers,
      ...(ctx.target.apiKey ? { 'x-api-key': ctx.target.apiKey } : {}),
      'anthropic-version': ANTHROPIC_VERSION,
      'content-type': 'application/json',
      ...(body.stream ? { accept: 'text/event-stream' } : {}),
    },
    body: JSON.stringify(body),
  });
}

const KNOWN_EVENTS = new Set([
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
  'error',
]);
const eventType = z.looseObject({ type: z.string() });

async function* translateStream(ctx: CallContext, res: UpstreamResponse, includeUsage: boolean): AsyncIterable<ChatChunk> {
  const translator = new AnthropicStreamTranslator({ includeUsage, target: ctx.target.name });
  try {
    for await (const batch of sseBatches(res.chunks())) {
      for (const sse of batch) {
        const event = parseEvent(ctx, sse.data);
        if (!event) continue;
        yield* translator.push(event);
        if (translator.done) return;
      }
    }
  } catch (err) {
    throw streamFailure(ctx, err);
  } finally {
    res.discard();
  }
  throw brokenAnswer(ctx, 'the stream ended before message_stop');
}

function parseEvent(ctx: CallContext, data: string): z.output<typeof anthropicStreamEventSchema> | undefined {
  const json = parseEventJson(ctx, data);
  const head = eventType.safeParse(json);
  if (!head.success) throw brokenAnswer(ctx, 'a stream event has no type');
  // Anthropic may add event types; unknown ones are skipped, as its docs ask.
  if (!KNOWN_EVENTS.has(head.data.type)) return undefined;
  const parsed = anthropicStreamEventSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw brokenAnswer(ctx, `a '${head.data.type}' stream event does not match the expected shape at '${issue?.path.join('.') ?? ''}'`);
  }
  return parsed.data;
}
