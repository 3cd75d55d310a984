// The overhead benchmark's request and the fixed answers of its upstream, shared by the run (run.ts), the upstream
// process (upstream.ts), the in-process bench (inprocess.ts) and idle-penalty.ts, so all measure the same bytes.

/**
 * The chat request every contender gets: two messages (~450 bytes) with `temperature: 0.7`, i.e. sampled
 * generation, which Heddle's cache (deterministic mode) never answers.
 */
export function chatBody(model: string, stream: boolean): string {
  const messages = [
    { role: 'system', content: 'You are a concise assistant that answers in one short sentence.' },
    {
      role: 'user',
      content:
        'Write one friendly sentence greeting a new user of our dataset generation tool, mentioning that it ' +
        'can produce question-answer pairs about geography, history and basic chemistry for evaluation runs.',
    },
  ];
  return JSON.stringify({ model, messages, max_tokens: 32, temperature: 0.7, ...(stream ? { stream: true } : {}) });
}

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
