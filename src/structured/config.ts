import * as z from 'zod';

// Per-target policy flag: how a target meets `response_format` json_schema / json_object requests.
//   native   the target enforces the schema itself (OpenAI, Anthropic, a FastLLM node with constrained decoding);
//            the request goes through unchanged.
//   emulate  the gateway instructs the model with the schema, extracts the JSON from the answer, validates it
//            and retries up to `structured_retries` times; an answer that never validates is a 422 structured_output_invalid, never a 200.
// Added to a target in the policy as `structured_output: emulate` (see docs/deepfabric.md).

export const structuredOutputModeSchema = z.enum(['native', 'emulate']).default('native');
export type StructuredOutputMode = z.output<typeof structuredOutputModeSchema>;

/** Attempts per request when emulating (the first try plus retries). */
export const EMULATION_ATTEMPTS = 3;
