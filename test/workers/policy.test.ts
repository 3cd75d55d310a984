import { env } from 'cloudflare:workers';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';

// How src/worker.ts finds and keeps its policy. Each test imports a fresh copy of the entry (the policy is cached
// per isolate, in module state) and calls its fetch with the env it wants, the way workerd would.

type Worker = { fetch(request: Request, env: Record<string, unknown>): Promise<Response> };

async function freshWorker(): Promise<Worker> {
  vi.resetModules();
  const module = (await import('../../src/worker.js')) as { default: Worker };
  return module.default;
}

const ready = async (worker: Worker, workerEnv: Record<string, unknown>) => {
  const res = await worker.fetch(new Request('http://heddle.test/ready'), workerEnv);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const policy = (targetName: string) =>
  `version: 1\ntargets:\n  ${targetName}: { kind: openai-compatible, url: "https://api.example.com/v1", api_key: "\${UPSTREAM_KEY}" }\nroutes:\n  - match: { model: "*" }\n    targets: [${targetName}]\n`;

describe('the entry module', () => {
  it('exports only `default` and the Durable Object class (workerd treats every named export as an entrypoint and refuses other values)', async () => {
    vi.resetModules();
    expect(Object.keys(await import('../../src/worker.js')).sort()).toEqual(['HeddleBreakers', 'default']);
  });
});

describe('policy sources', () => {
  it('uses the bundled policies/default.yaml when nothing overrides it', async () => {
    const { body } = await ready(await freshWorker(), {});
    expect(body.policy).toBe('policies/default.yaml');
  });

  it('prefers HEDDLE_POLICY_YAML, interpolating ${VAR} from string bindings', async () => {
    const { status, body } = await ready(await freshWorker(), { HEDDLE_POLICY_YAML: policy('a'), UPSTREAM_KEY: 'sk-x' });
    expect(status).toBe(200);
    expect(body).toMatchObject({ policy: 'HEDDLE_POLICY_YAML', targets: ['a'] });
  });
});

describe('an invalid policy', () => {
  it('answers every request 503 in the OpenAI error shape, listing the problems with their location', async () => {
    const worker = await freshWorker();
    const broken = { HEDDLE_POLICY_YAML: 'version: 2\ntargets: {}\nroutes: []\n' };
    for (const path of ['/v1/chat/completions', '/health']) {
      const res = await worker.fetch(new Request(`http://heddle.test${path}`, { method: 'POST', body: '{}' }), broken);
      expect(res.status).toBe(503);
      const body = (await res.json()) as { error: { message: string; type: string; param: null; code: string } };
      expect(body).toEqual({ error: { message: expect.any(String), type: 'service_unavailable', param: null, code: 'policy_invalid' } });
      expect(body.error.message).toContain('HEDDLE_POLICY_YAML:1:');
      expect(body.error.message).toContain('version');
    }
  });

  it('names a secret the policy needs but the Worker lacks', async () => {
    const res = await (await freshWorker()).fetch(new Request('http://heddle.test/health'), { HEDDLE_POLICY_YAML: policy('a') });
    expect(res.status).toBe(503);
    expect(((await res.json()) as { error: { message: string } }).error.message).toContain('UPSTREAM_KEY is not set');
  });
});

describe('policy in KV', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['Date'] }));
  afterEach(async () => {
    vi.useRealTimers();
    await env.POLICY_KV_TEST.delete('policy.yaml');
  });

  it('takes precedence, is re-read at most every 30 s, and a broken edit keeps the last good policy', async () => {
    const worker = await freshWorker();
    const kv = env.POLICY_KV_TEST;
    const get = vi.spyOn(kv, 'get');
    const workerEnv = { HEDDLE_POLICY_KV: kv, HEDDLE_POLICY_YAML: policy('from-var'), UPSTREAM_KEY: 'sk-x' };

    await kv.put('policy.yaml', policy('from-kv'));
    expect((await ready(worker, workerEnv)).body).toMatchObject({ policy: 'kv:HEDDLE_POLICY_KV/policy.yaml', targets: ['from-kv'] });

    await kv.put('policy.yaml', policy('edited'));
    vi.advanceTimersByTime(10_000);
    expect((await ready(worker, workerEnv)).body).toMatchObject({ targets: ['from-kv'] });
    expect(get).toHaveBeenCalledTimes(1);

    vi.advanceTimersByTime(21_000);
    expect((await ready(worker, workerEnv)).body).toMatchObject({ targets: ['edited'] });
    expect(get).toHaveBeenCalledTimes(2);

    await kv.put('policy.yaml', 'version: 1\ntargets: [');
    vi.advanceTimersByTime(31_000);
    const kept = await ready(worker, workerEnv);
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ targets: ['edited'] });
  });

  it('falls back to HEDDLE_POLICY_YAML when the key is absent', async () => {
    const workerEnv = { HEDDLE_POLICY_KV: env.POLICY_KV_TEST, HEDDLE_POLICY_YAML: policy('from-var'), UPSTREAM_KEY: 'sk-x' };
    expect((await ready(await freshWorker(), workerEnv)).body).toMatchObject({ policy: 'HEDDLE_POLICY_YAML' });
  });
});
