import { anthropicAdapter } from './anthropic/index.js';
import { createFastllmAdapter } from './fastllm/index.js';
import { geminiAdapter } from './gemini/index.js';
import { openAiWireAdapter } from './openai-wire/index.js';
import { withStructuredOutput } from '../structured/emulate.js';
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

// Each adapter emulates structured output for targets whose policy says `structured_output: emulate`.
const STRUCTURED = Object.fromEntries(
  Object.entries(ADAPTERS).map(([kind, adapter]) => [kind, withStructuredOutput(adapter, (t) => t.structuredOutput ?? 'native')]),
) as Record<TargetKind, ProviderAdapter>;

export function adapterFor(kind: TargetKind): ProviderAdapter {
  return STRUCTURED[kind];
}
