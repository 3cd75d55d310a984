import { createFastllmAdapter } from './fastllm/index.js';
import { openAiWireAdapter } from './openai-wire/index.js';
import type { ProviderAdapter, TargetKind } from './types.js';

// Target kind -> the adapter that speaks its wire. Most kinds speak OpenAI's.
const fastllm = createFastllmAdapter();

const ADAPTERS: Record<TargetKind, ProviderAdapter> = {
  fastllm,
  ollama: openAiWireAdapter,
  openai: openAiWireAdapter,
  openrouter: openAiWireAdapter,
  together: openAiWireAdapter,
  'openai-compatible': openAiWireAdapter,
  anthropic: openAiWireAdapter, // replaced by the Messages adapter
  gemini: openAiWireAdapter, // replaced by the generateContent adapter
};

export function adapterFor(kind: TargetKind): ProviderAdapter {
  return ADAPTERS[kind];
}
