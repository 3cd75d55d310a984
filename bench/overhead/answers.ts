// The fixed answers of the overhead benchmark's upstream, shared by the upstream process (upstream.ts) and the
// in-process bench (inprocess.ts), so both measure Heddle on the same bytes.

export const created = 1_760_000_000;

/** POST /v1/chat/completions without "stream": true. */
export const completionJson = JSON.stringify({
  id: 'chatcmpl-bench0000000000000000000001',
  object: 'chat.completion',
  created,
  model: 'fixed-model',
  system_fingerprint: 'fp_bench',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Hello! This is a fixed answer from the benchmark upstream.', refusal: null },
      logprobs: null,
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 64, completion_tokens: 12, total_tokens: 76 },
});

/**
 * GET answers by path: the model list, and the health probes Heddle sends a FastLLM node (/health, /v1/load) and an
 * Ollama server (/api/tags); the default policy's two local targets both point at the upstream.
 */
export const getAnswers = new Map<string, string>([
  ['/v1/models', JSON.stringify({ object: 'list', data: [{ id: 'fixed-model', object: 'model', created, owned_by: 'bench' }] })],
  ['/health', '{"status":"ok"}'],
  ['/v1/load', '{"running":0,"waiting":0,"queue_capacity":64,"kv_used":0,"kv_capacity":4096}'],
  ['/api/tags', '{"models":[]}'],
]);
