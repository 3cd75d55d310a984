import { describe, expect, it } from 'vitest';
import { authenticate, constantTimeEqual, hashKey, isLoopback } from '../../../src/auth/index.js';
import type { LoadedPolicy } from '../../../src/deps.js';
import type { ChatRequest } from '../../../src/dialects/openai/schema.js';
import { HeddleError } from '../../../src/errors.js';
import { defaultReach } from '../../../src/policy/compile.js';
import { decideRequest, planRequest } from '../../../src/policy/decide.js';
import { loadPolicy } from '../../../src/policy/index.js';
import { orderCandidates, type TargetStats } from '../../../src/routing/strategy.js';

const KEY_A = 'hk-team-a-0123456789';
const KEY_EVAL = 'hk-eval-0123456789';

async function policy(runtime: 'node' | 'workers' = 'node', extra = ''): Promise<LoadedPolicy> {
  const text = `version: 1
targets:
  local: { kind: fastllm, url: "http://127.0.0.1:8000", clearance: restricted, region: lab }
  box:   { kind: fastllm, url: "http://10.0.0.7:8000", clearance: confidential, weight: 3 }
  cloud: { kind: openai-compatible, url: "https://api.example.com/v1", clearance: internal }
  pub:   { kind: openai-compatible, url: "https://pub.example.com/v1", clearance: public }
models:
  teacher: { local: qwen-7b, cloud: gpt-4o-mini }
routes:
  - { name: eval, match: { model: student, purpose: evaluation }, targets: [local] }
  - { name: secret-only, match: { model: teacher, class: restricted }, targets: [local] }
  - { name: teacher, match: { model: teacher }, strategy: fallback, targets: [cloud, box, local], params: { max_tokens: 100, tools: [get_weather] } }
  - { name: team-only, match: { model: "team-*", tenant: team-a }, targets: [pub, cloud] }
  - { name: sensitive, match: { model: "hr-*" }, privacy: confidential, targets: [cloud, box] }
  - { name: any, match: { model: ["student", "misc-*"] }, targets: [pub, cloud, local] }
tenants:
  team-a: { keys: ["${await hashKey(KEY_A)}"], floor: public, routes: [teacher, team-only, any, secret-only] }
  evaluator: { keys: ["${await hashKey(KEY_EVAL)}"], purpose: evaluation }
${extra}`;
  return loadPolicy(text, 'test.yaml', {}, { runtime });
}

const chat = (model: string, content = 'hello', extra: Partial<ChatRequest> = {}): ChatRequest =>
  ({ model, messages: [{ role: 'user', content }], ...extra }) as ChatRequest;

const input = (headers: Record<string, string> = {}, remoteAddress = '127.0.0.1') => ({ headers: new Headers(headers), remoteAddress });
const bearer = (key: string) => ({ authorization: `Bearer ${key}` });

async function refusal(decide: () => unknown): Promise<HeddleError> {
  try {
    await decide();
  } catch (err) {
    if (err instanceof HeddleError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('auth', () => {
  it('maps a key to its tenant by its SHA-256 digest', async () => {
    const loaded = await policy();
    const d = await decideRequest(loaded, chat('misc-1'), input(bearer(KEY_A), '203.0.113.9'));
    expect(d.tenant.name).toBe('team-a');
    expect(d.privacy.class).toBe('public');
    expect(d.privacy.signals).toEqual(['tenant']);
  });

  it('takes the key from x-api-key too (Anthropic clients)', async () => {
    const d = await decideRequest(await policy(), chat('misc-1'), input({ 'x-api-key': KEY_A }, '203.0.113.9'));
    expect(d.tenant.name).toBe('team-a');
  });

  it('treats unknown keys from loopback as anonymous (dummy keys work locally) and refuses them from elsewhere', async () => {
    const loaded = await policy();
    expect((await decideRequest(loaded, chat('misc-1'), input(bearer('dummy'), '::ffff:127.0.0.1'))).tenant.name).toBe('anonymous');
    const err = await refusal(() => decideRequest(loaded, chat('misc-1'), input(bearer('dummy'), '203.0.113.9')));
    expect([err.status, err.code]).toEqual([401, 'invalid_api_key']);
    // Workers never know a loopback peer.
    expect((await refusal(() => decideRequest(loaded, chat('misc-1'), { headers: new Headers() }))).status).toBe(401);
  });

  it('lets anyone in while no tenant declares keys, and nobody anonymous with anonymous: none', async () => {
    const open = loadPolicy('version: 1\ntargets: { a: { kind: fastllm } }\nroutes: [{ match: { model: "*" }, targets: [a] }]\n', 'o.yaml', {});
    expect(authenticate(open.policy, { authorization: null, remoteAddress: '203.0.113.9' }).name).toBe('anonymous');
    const closed = loadPolicy('version: 1\ntargets: { a: { kind: fastllm } }\nroutes: [{ match: { model: "*" }, targets: [a] }]\nauth: { anonymous: none }\n', 'c.yaml', {});
    expect(() => authenticate(closed.policy, { authorization: null, remoteAddress: '127.0.0.1' })).toThrow(expect.objectContaining({ status: 401 }));
  });

  it('hashes keys with SHA-256 (FIPS 180-4 test vectors)', () => {
    expect(hashKey('abc')).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(hashKey('')).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    expect(hashKey('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')).toBe(
      'sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
    expect(hashKey('a'.repeat(1000))).toBe('sha256:41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3');
  });

  it('compares digests in full and recognises loopback addresses', () => {
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 3]))).toBe(true);
    expect(constantTimeEqual(new Uint8Array([1, 2, 3]), new Uint8Array([1, 2, 4]))).toBe(false);
    expect(constantTimeEqual(new Uint8Array([1, 2]), new Uint8Array([1, 2, 3]))).toBe(false);
    for (const a of ['127.0.0.1', '127.8.9.1', '::1', '::ffff:127.0.0.1']) expect(isLoopback(a)).toBe(true);
    for (const a of ['10.0.0.1', '::ffff:10.0.0.1', '0.0.0.0', undefined]) expect(isLoopback(a)).toBe(false);
  });
});

describe('route matching', () => {
  it('matches purpose from the header, or pins it by the tenant', async () => {
    const loaded = await policy();
    expect((await decideRequest(loaded, chat('student'), input({ 'x-heddle-purpose': 'evaluation' }))).route.route.name).toBe('eval');
    expect((await decideRequest(loaded, chat('student'), input())).route.route.name).toBe('any');
    const pinned = await decideRequest(loaded, chat('student'), input(bearer(KEY_EVAL)));
    expect([pinned.purpose, pinned.route.route.name]).toEqual(['evaluation', 'eval']);
    const err = await refusal(() => decideRequest(loaded, chat('student'), input({ ...bearer(KEY_EVAL), 'x-heddle-purpose': 'generation' })));
    expect([err.status, err.code]).toEqual([403, 'purpose_not_allowed']);
  });

  it('matches by tenant and refuses routes a tenant may not use', async () => {
    const loaded = await policy();
    expect((await decideRequest(loaded, chat('team-x'), input(bearer(KEY_A)))).route.route.name).toBe('team-only');
    expect((await refusal(() => decideRequest(loaded, chat('team-x'), input()))).code).toBe('model_not_found');
    const err = await refusal(() => decideRequest(loaded, chat('hr-x'), input(bearer(KEY_A))));
    expect([err.status, err.code]).toEqual([403, 'route_not_allowed']);
  });

  it('matches by class, and a route rule raises the class', async () => {
    const loaded = await policy();
    const secret = await decideRequest(loaded, chat('teacher', 'key AKIAIOSFODNN7EXAMPLE'), input());
    expect([secret.route.route.name, secret.privacy.class]).toEqual(['secret-only', 'restricted']);
    const hr = await decideRequest(loaded, chat('hr-payroll'), input());
    expect(hr.privacy).toMatchObject({ class: 'confidential', signals: ['route'], sources: { tenant: 'internal', route: 'confidential' } });
    expect(hr.route.candidates.map((c) => c.target.name)).toEqual(['box']);
  });

  it('a header may raise the class but never lower it', async () => {
    const loaded = await policy();
    const raised = await decideRequest(loaded, chat('misc-1'), input({ 'x-heddle-privacy': 'confidential' }));
    expect([raised.privacy.class, raised.privacy.signals]).toEqual(['confidential', ['header']]);
    const lowered = await decideRequest(loaded, chat('misc-1', 'mail me at ann@example.com'), input({ 'x-heddle-privacy': 'public' }));
    expect(lowered.privacy.class).toBe('internal');
    expect((await refusal(() => decideRequest(loaded, chat('misc-1'), input({ 'x-heddle-privacy': 'secret' })))).status).toBe(400);
  });

  it('caps max_tokens and tools per route, refusing instead of clamping', async () => {
    const loaded = await policy();
    const over = await refusal(() => decideRequest(loaded, chat('teacher', 'hi', { max_completion_tokens: 101 }), input()));
    expect([over.status, over.code, over.param]).toEqual([400, 'route_param_cap', 'max_completion_tokens']);
    await decideRequest(loaded, chat('teacher', 'hi', { max_tokens: 100 }), input());
    const tool = (name: string) => ({ type: 'function' as const, function: { name, parameters: {} } });
    await decideRequest(loaded, chat('teacher', 'hi', { tools: [tool('get_weather')] } as Partial<ChatRequest>), input());
    const denied = await refusal(() => decideRequest(loaded, chat('teacher', 'hi', { tools: [tool('rm_rf')] } as Partial<ChatRequest>), input()));
    expect([denied.status, denied.code]).toEqual([403, 'tool_not_allowed']);
  });
});

describe('privacy filter before the strategy', () => {
  it('removes targets below the class, keeps the listed order and resolves per-target model ids', async () => {
    const d = await decideRequest(await policy(), chat('teacher', 'card 4111 1111 1111 1111'), input());
    expect(d.privacy.class).toBe('confidential');
    expect(d.route.candidates.map((c) => [c.target.name, c.model])).toEqual([['box', 'teacher'], ['local', 'qwen-7b']]);
    expect(d.route.removed).toEqual([{ target: 'cloud', reason: 'clearance internal is below class confidential' }]);
  });

  it('fails closed with privacy_no_cleared_target when nothing is cleared', async () => {
    const loaded = await policy();
    const err = await refusal(() => decideRequest(loaded, chat('hr-1', 'key AKIAIOSFODNN7EXAMPLE'), input()));
    expect([err.status, err.code]).toEqual([403, 'privacy_no_cleared_target']);
    expect(err.message).toContain('cloud (clearance internal is below class restricted); box (clearance confidential is below class restricted)');
  });

  it('on Workers, private targets are unreachable and a request needing them fails closed', async () => {
    const loaded = await policy('workers');
    const plan = await planRequest(loaded, chat('misc-1', 'card 4111 1111 1111 1111'), { headers: new Headers(bearer(KEY_A)) });
    expect(plan.route.removed).toEqual([
      { target: 'pub', reason: 'clearance public is below class confidential' },
      { target: 'cloud', reason: 'clearance internal is below class confidential' },
      { target: 'local', reason: 'not reachable from workers (reach: node)' },
    ]);
    expect(plan.route.error?.code).toBe('privacy_no_cleared_target');
    expect(defaultReach('http://192.168.1.4:8000')).toEqual(['node']);
    expect(defaultReach('http://gpu-box:8000')).toEqual(['node']);
    expect(defaultReach('https://api.openai.com/v1')).toEqual(['node', 'workers']);
  });
});

describe('strategies order, never filter', () => {
  const cands = ['a', 'b', 'c'].map((name, i) => ({ target: { name, weight: [1, 3, 6][i] ?? 1 } }));
  const names = (xs: typeof cands) => xs.map((c) => c.target.name);

  it('fallback keeps the listed order', () => {
    expect(names(orderCandidates('fallback', cands))).toEqual(['a', 'b', 'c']);
  });

  it('weighted picks the first in proportion to weight (seeded random)', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const firsts: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < 5000; i++) {
      const order = names(orderCandidates('weighted', cands, { random }));
      expect([...order].sort()).toEqual(['a', 'b', 'c']);
      firsts[order[0] ?? ''] = (firsts[order[0] ?? ''] ?? 0) + 1;
    }
    expect((firsts.a ?? 0) / 5000).toBeCloseTo(0.1, 1);
    expect((firsts.b ?? 0) / 5000).toBeCloseTo(0.3, 1);
    expect((firsts.c ?? 0) / 5000).toBeCloseTo(0.6, 1);
  });

  it('least-loaded and fastest use live stats, and keep the listed order without them', () => {
    expect(names(orderCandidates('least-loaded', cands))).toEqual(['a', 'b', 'c']);
    expect(names(orderCandidates('fastest', cands))).toEqual(['a', 'b', 'c']);
    const stats: TargetStats = {
      outstanding: (n) => ({ a: 2, b: 3, c: 6 })[n] ?? 0,
      latencyEwmaMs: (n) => ({ b: 300, c: 120 })[n],
      reportedLoad: () => undefined,
      tokensPerSecondEwma: () => undefined,
    };
    // per unit of weight: a 2, b 1, c 1 -> b and c tie, listed order between them
    expect(names(orderCandidates('least-loaded', cands, { stats }))).toEqual(['b', 'c', 'a']);
    // a has no sample yet, so it is tried first to get one; then by latency
    expect(names(orderCandidates('fastest', cands, { stats }))).toEqual(['a', 'c', 'b']);
  });

  it('fastest weighs first-byte latency against generation speed', () => {
    const stats: TargetStats = {
      outstanding: () => 0,
      // c answers first but generates slowly: 100 ms + 256 tokens at 20 tok/s = 12.9 s; b: 400 ms + 256 at 200 = 1.68 s
      latencyEwmaMs: (n) => ({ a: 900, b: 400, c: 100 })[n],
      reportedLoad: () => undefined,
      tokensPerSecondEwma: (n) => ({ a: 100, b: 200, c: 20 })[n],
    };
    expect(names(orderCandidates('fastest', cands, { stats }))).toEqual(['b', 'a', 'c']);
  });
});
