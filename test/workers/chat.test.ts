import { exports } from 'cloudflare:workers';
import { describe, expect, it, vi } from 'vitest';

// Requests enter through the Worker's real `export default { fetch }` (src/worker.ts) inside workerd, and the
// Worker fetches a real loopback HTTP upstream (upstream.global.ts). The policy comes from HEDDLE_POLICY_YAML.

const gateway = (path: string, init?: RequestInit) => exports.default.fetch(`http://heddle.test${path}`, init);

const chat = (body: unknown) =>
  gateway('/v1/chat/completions', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

interface ErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

async function expectOpenAiError(res: Response, status: number, code: string): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await res.json()) as ErrorBody;
  expect(Object.keys(body)).toEqual(['error']);
  expect(Object.keys(body.error).sort()).toEqual(['code', 'message', 'param', 'type']);
  expect(body.error.code).toBe(code);
  expect(body.error.message.length).toBeGreaterThan(0);
  return body;
}

/** SSE body -> the JSON of each `data:` event, and whether it ended with `[DONE]`. */
async function readSse(res: Response): Promise<{ events: unknown[]; done: boolean }> {
  const text = await res.text();
  const events: unknown[] = [];
  let done = false;
  for (const block of text.split('\n\n')) {
    const data = block
      .split('\n')
      .filter((line) => line.startsWith('data:'))
      .map((line) => line.slice(5).trim())
      .join('\n');
    if (data === '') continue;
    if (data === '[DONE]') done = true;
    else events.push(JSON.parse(data));
  }
  return { events, done };
}

describe('chat completions through the Workers entry', () => {
  it('answers a non-streaming chat from the upstream, with one audit line', async () => {
    const audit = vi.spyOn(console, 'log');
    const res = await chat({ model: 'm', messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-heddle-target')).toBe('up');
    expect(res.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
    const body = (await res.json()) as { object: string; model: string; choices: { message: { content: string } }[]; usage: unknown };
    expect(body.object).toBe('chat.completion');
    expect(body.choices[0]?.message.content).toBe('Hello from workerd');
    expect(body.usage).toEqual({ prompt_tokens: 9, completion_tokens: 4, total_tokens: 13 });

    const lines = audit.mock.calls.map((args) => String(args[0])).filter((line) => line.includes('"target"'));
    audit.mockRestore();
    expect(lines).toHaveLength(1);
    const record = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
    expect(record.target).toBe('up');
    expect(lines[0]).not.toContain('Hi"');
  });

  it('streams the upstream chunks in order and ends with [DONE]', async () => {
    const res = await chat({ model: 'm', stream: true, messages: [{ role: 'user', content: 'Hi' }] });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const { events, done } = await readSse(res);
    expect(done).toBe(true);
    const chunks = events as { object: string; choices: { delta: { content?: string }; finish_reason: string | null }[] }[];
    for (const c of chunks) expect(c.object).toBe('chat.completion.chunk');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from workerd');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('stop');
    // The client did not ask for usage, so the usage-only chunk is not forwarded.
    expect(chunks.every((c) => c.choices.length > 0)).toBe(true);
  });

  it('forwards the usage chunk when the client asks for it', async () => {
    const res = await chat({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hi' }] });
    const { events, done } = await readSse(res);
    expect(done).toBe(true);
    const last = events.at(-1) as { choices: unknown[]; usage: unknown };
    expect(last.choices).toEqual([]);
    expect(last.usage).toEqual({ prompt_tokens: 9, completion_tokens: 3, total_tokens: 12 });
  });
});

describe('bad input answers in the OpenAI error shape', () => {
  it('invalid JSON -> 400 invalid_json', async () => {
    const body = await expectOpenAiError(await chat('{"model": "m", "messages": ['), 400, 'invalid_json');
    expect(body.error.type).toBe('invalid_request_error');
  });

  it('missing messages -> 400 naming the parameter', async () => {
    const body = await expectOpenAiError(await chat({ model: 'm' }), 400, 'invalid_value');
    expect(body.error.type).toBe('invalid_request_error');
    expect(body.error.param).toBe('messages');
  });

  it('unknown model -> 404 model_not_found', async () => {
    const body = await expectOpenAiError(await chat({ model: 'nope', messages: [{ role: 'user', content: 'Hi' }] }), 404, 'model_not_found');
    expect(body.error.type).toBe('not_found_error');
    expect(body.error.param).toBe('model');
  });

  it('unknown path -> 404 in the same shape', async () => {
    await expectOpenAiError(await gateway('/v1/nothing-here'), 404, 'unknown_url');
  });
});

describe('runtime differences', () => {
  it('serves /health but no /metrics', async () => {
    expect((await gateway('/health')).status).toBe(200);
    expect((await gateway('/metrics')).status).toBe(404);
  });
});
