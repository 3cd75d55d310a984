import * as z from 'zod';

// Ollama's native API as clients send it (https://github.com/ollama/ollama/blob/main/docs/api.md): the requests
// we parse (zod, loose: Ollama ignores fields it does not know) and the answers we write (types only).

const toolCallSchema = z.looseObject({
  id: z.string().optional(),
  function: z.looseObject({
    index: z.number().int().optional(),
    name: z.string().min(1),
    // Ollama sends an object; clients that build messages by hand (DeepFabric's evaluator) send a JSON string.
    arguments: z.union([z.record(z.string(), z.unknown()), z.string()]).optional(),
  }),
});

export const ollamaMessageSchema = z.looseObject({
  role: z.enum(['system', 'user', 'assistant', 'tool']),
  content: z.string().nullish(),
  images: z.array(z.string()).nullish(),
  thinking: z.string().nullish(),
  tool_calls: z.array(toolCallSchema).nullish(),
  /** Which tool produced a `tool` message (Ollama >= 0.9). */
  tool_name: z.string().nullish(),
  tool_call_id: z.string().nullish(),
});
export type OllamaMessage = z.output<typeof ollamaMessageSchema>;

export const ollamaToolSchema = z.looseObject({
  type: z.literal('function').default('function'),
  function: z.looseObject({
    name: z.string().min(1).max(64),
    description: z.string().nullish(),
    parameters: z.record(z.string(), z.unknown()).nullish(),
  }),
});

/** `options` as Ollama documents them; the ones with an OpenAI counterpart are translated, the rest ignored. */
export const ollamaOptionsSchema = z.looseObject({
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  num_predict: z.number().int().nullish(),
  seed: z.number().int().nullish(),
  stop: z.union([z.string(), z.array(z.string())]).nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
});
export type OllamaOptions = z.output<typeof ollamaOptionsSchema>;

/** `format`: "json" or a JSON schema object. */
export const ollamaFormatSchema = z.union([z.literal('json'), z.literal(''), z.record(z.string(), z.unknown())]).nullish();
export type OllamaFormat = z.output<typeof ollamaFormatSchema>;

export const ollamaChatRequestSchema = z.looseObject({
  model: z.string().min(1),
  messages: z.array(ollamaMessageSchema).default([]),
  tools: z.array(ollamaToolSchema).nullish(),
  format: ollamaFormatSchema,
  options: ollamaOptionsSchema.nullish(),
  /** Ollama streams unless told otherwise. */
  stream: z.boolean().nullish(),
  keep_alive: z.union([z.string(), z.number()]).nullish(),
  think: z.union([z.boolean(), z.string()]).nullish(),
});
export type OllamaChatRequest = z.output<typeof ollamaChatRequestSchema>;

export const ollamaGenerateRequestSchema = z.looseObject({
  model: z.string().min(1),
  prompt: z.string().default(''),
  suffix: z.string().nullish(),
  system: z.string().nullish(),
  images: z.array(z.string()).nullish(),
  format: ollamaFormatSchema,
  options: ollamaOptionsSchema.nullish(),
  stream: z.boolean().nullish(),
  raw: z.boolean().nullish(),
  keep_alive: z.union([z.string(), z.number()]).nullish(),
});
export type OllamaGenerateRequest = z.output<typeof ollamaGenerateRequestSchema>;

export const ollamaEmbedRequestSchema = z.looseObject({
  model: z.string().min(1),
  input: z.union([z.string(), z.array(z.string()).min(1)]),
  truncate: z.boolean().nullish(),
  dimensions: z.number().int().min(1).nullish(),
  options: ollamaOptionsSchema.nullish(),
  keep_alive: z.union([z.string(), z.number()]).nullish(),
});
export type OllamaEmbedRequest = z.output<typeof ollamaEmbedRequestSchema>;

/** `/api/show` takes `model`; older clients send `name`. */
export const ollamaShowRequestSchema = z
  .looseObject({ model: z.string().min(1).optional(), name: z.string().min(1).optional(), verbose: z.boolean().nullish() })
  .refine((r) => r.model !== undefined || r.name !== undefined, { message: 'model is required', path: ['model'] });

// ---- answers -------------------------------------------------------------------------------------------

export interface OllamaToolCall {
  id?: string;
  function: { index?: number; name: string; arguments: Record<string, unknown> };
}

export interface OllamaTimings {
  total_duration: number;
  load_duration: number;
  prompt_eval_count: number;
  prompt_eval_duration: number;
  eval_count: number;
  eval_duration: number;
}

export interface OllamaChatChunk extends Partial<OllamaTimings> {
  model: string;
  created_at: string;
  message: { role: 'assistant'; content: string; thinking?: string; tool_calls?: OllamaToolCall[] };
  done: boolean;
  done_reason?: string;
}

export interface OllamaGenerateChunk extends Partial<OllamaTimings> {
  model: string;
  created_at: string;
  response: string;
  done: boolean;
  done_reason?: string;
}

export interface OllamaModelDetails {
  parent_model: string;
  format: string;
  family: string;
  families: string[];
  parameter_size: string;
  quantization_level: string;
}
