import { anthropicAdapter } from './anthropic/index.js';
import { createFastllmAdapter } from './fastllm/index.js';
import { geminiAdapter } from './gemini/index.js';
import { openAiWireAdapter } from './openai-wire/index.js';
import type { ProviderAdapter, TargetKind } from './types.js';

// Target kind -> the adapter that speaks its wire. Most kinds speak OpenAI's; Anthropic and Gemini have their own.
const fastllm = createFastllmAdapter();

const ADAPTERS: Record<TargetKind, ProviderAdapter> = {
  fastllm,
  ollama: openAiWireAdapter,
  openai: openAiWireAdapter,
  openrouter: openAiWireAdapter,
  together: openAiWireAdapter,
  'openai-compatible': openAiWireAdapter,
  anthropic: anthropicAdapter,
  gemini: geminiAdapter,
};

export function adapterFor(kind: TargetKind): ProviderAdapter {
  return ADAPTERS[kind];
}
