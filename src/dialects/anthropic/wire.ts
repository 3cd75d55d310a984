import * as z from 'zod';

// Anthropic Messages API as clients send it to us (https://docs.anthropic.com/en/api/messages): the request
// (zod, loose so fields we do not translate still parse) and the answer and stream events we write (types).
// The outbound adapter (src/providers/anthropic/wire.ts) holds the same format in the other direction.

const cacheControl = z.looseObject({ type: z.string() }).nullish();

const textBlock = z.looseObject({ type: z.literal('text'), text: z.string(), cache_control: cacheControl });
const imageBlock = z.looseObject({
  type: z.literal('image'),
  source: z.union([
    z.looseObject({ type: z.literal('base64'), media_type: z.string(), data: z.string() }),
    z.looseObject({ type: z.literal('url'), url: z.string() }),
  ]),
  cache_control: cacheControl,
});
const toolUseBlock = z.looseObject({
  type: z.literal('tool_use'),
  id: z.string().min(1),
  name: z.string().min(1),
  input: z.record(z.string(), z.unknown()),
  cache_control: cacheControl,
});
const toolResultBlock = z.looseObject({
  type: z.literal('tool_result'),
  tool_use_id: z.string().min(1),
  content: z.union([z.string(), z.array(z.union([textBlock, imageBlock]))]).optional(),
  is_error: z.boolean().optional(),
  cache_control: cacheControl,
});
// Thinking blocks come back in multi-turn conversations; they have no OpenAI counterpart and are dropped.
const thinkingBlock = z.looseObject({ type: z.enum(['thinking', 'redacted_thinking']) });

export const inboundBlockSchema = z.discriminatedUnion('type', [textBlock, imageBlock, toolUseBlock, toolResultBlock, thinkingBlock]);
export type InboundBlock = z.output<typeof inboundBlockSchema>;

export const inboundMessageSchema = z.looseObject({
  role: z.enum(['user', 'assistant']),
  content: z.union([z.string(), z.array(inboundBlockSchema)]),
});
export type InboundMessage = z.output<typeof inboundMessageSchema>;

const jsonSchemaFormat = z.looseObject({ type: z.literal('json_schema'), schema: z.record(z.string(), z.unknown()) });

export const inboundToolSchema = z.looseObject({
  name: z.string().min(1).max(128),
  description: z.string().optional(),
  input_schema: z.record(z.string(), z.unknown()),
  strict: z.boolean().optional(),
  cache_control: cacheControl,
});

const messagesFields = {
  model: z.string().min(1),
  messages: z.array(inboundMessageSchema).min(1),
  system: z.union([z.string(), z.array(textBlock)]).optional(),
  tools: z.array(inboundToolSchema).optional(),
  tool_choice: z
    .looseObject({
      type: z.enum(['auto', 'any', 'tool', 'none']),
      name: z.string().optional(),
      disable_parallel_tool_use: z.boolean().optional(),
    })
    .optional(),
};

export const messagesRequestSchema = z.looseObject({
  ...messagesFields,
  max_tokens: z.number().int().min(1),
  temperature: z.number().min(0).max(1).optional(),
  top_p: z.number().min(0).max(1).optional(),
  top_k: z.number().int().min(0).optional(),
  stop_sequences: z.array(z.string()).optional(),
  stream: z.boolean().optional(),
  metadata: z.looseObject({ user_id: z.string().nullish() }).optional(),
  /** Structured outputs, beta form (anthropic-beta: structured-outputs-2025-11-13), as DeepFabric sends it. */
  output_format: jsonSchemaFormat.nullish(),
  /** Structured outputs, GA form. */
  output_config: z.looseObject({ format: jsonSchemaFormat.nullish() }).nullish(),
});
export type MessagesRequest = z.output<typeof messagesRequestSchema>;

export const countTokensRequestSchema = z.looseObject(messagesFields);
export type CountTokensRequest = z.output<typeof countTokensRequestSchema>;

// ---- answers -------------------------------------------------------------------------------------------

export type OutboundBlock =
  | { type: 'text'; text: string }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown> };

export type StopReason = 'end_turn' | 'max_tokens' | 'stop_sequence' | 'tool_use' | 'refusal';

export interface MessagesUsage {
  input_tokens: number;
  output_tokens: number;
  cache_creation_input_tokens: number;
  cache_read_input_tokens: number;
}

export interface MessagesAnswer {
  id: string;
  type: 'message';
  role: 'assistant';
  model: string;
  content: OutboundBlock[];
  stop_reason: StopReason | null;
  stop_sequence: string | null;
  usage: MessagesUsage;
}

export type MessagesStreamEvent =
  | { type: 'message_start'; message: MessagesAnswer }
  | { type: 'content_block_start'; index: number; content_block: OutboundBlock }
  | {
      type: 'content_block_delta';
      index: number;
      delta: { type: 'text_delta'; text: string } | { type: 'input_json_delta'; partial_json: string };
    }
  | { type: 'content_block_stop'; index: number }
  | {
      type: 'message_delta';
      delta: { stop_reason: StopReason | null; stop_sequence: string | null };
      usage: { input_tokens: number; output_tokens: number };
    }
  | { type: 'message_stop' }
  | { type: 'ping' };
