import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { policyJsonSchema, runCli } from '../../../src/cli/heddle.js';
import { loadPolicy } from '../../../src/policy/index.js';

// The committed policy files: each example loads, the JSON Schema editors use is current, and `heddle check`
// says what a user needs to know.

const examples = readdirSync('policies').filter((f) => f.endsWith('.yaml'));

describe('example policies', () => {
  it('include default, privacy-first and deepfabric', () => {
    expect(examples).toEqual(expect.arrayContaining(['default.yaml', 'privacy-first.yaml', 'deepfabric.yaml']));
  });

  it.each(examples)('%s loads with an empty environment', (file) => {
    const loaded = loadPolicy(readFileSync(`policies/${file}`, 'utf8'), file, {});
    expect(loaded.policy.routes.length).toBeGreaterThan(0);
  });

  it('default.yaml keeps heddle-demo on local, then ollama; cloud only for public and internal with a key', () => {
    const { policy } = loadPolicy(readFileSync('policies/default.yaml', 'utf8'), 'default.yaml', { OPENAI_API_KEY: 'sk-x' });
    const demo = policy.routes.find((r) => r.matchesModel('heddle-demo'));
    expect(demo?.targets.map((t) => t.name)).toEqual(['local', 'ollama']);
    expect(policy.targets.get('openai')).toMatchObject({ clearance: 'internal', unusable: undefined });
  });

  it('privacy-first.yaml has no target that leaves the machine', () => {
    const { policy } = loadPolicy(readFileSync('policies/privacy-first.yaml', 'utf8'), 'p.yaml', {});
    for (const t of policy.targets.values()) expect(new URL(t.url).hostname).toBe('127.0.0.1');
    expect(policy.privacyDefault).toBe('confidential');
  });
});

describe('policy JSON Schema', () => {
  it('policies/policy.schema.json matches the zod schema (regenerate: npx tsx src/cli/heddle.ts schema > policies/policy.schema.json)', () => {
    expect(readFileSync('policies/policy.schema.json', 'utf8')).toBe(policyJsonSchema());
  });
});

describe('heddle check', () => {
  it('prints routes and what each class is served by', async () => {
    const r = await runCli(['check', 'policies/deepfabric.yaml'], {});
    expect(r.code).toBe(0);
    expect(r.out).toContain('evaluate-student: model student, purpose evaluation (fallback)');
    expect(r.out).toMatch(/restricted\s+-> teacher-box, ollama/);
  });

  it('warns about routes that can never be served on Workers', async () => {
    const r = await runCli(['check', '--runtime', 'workers', 'policies/default.yaml'], {});
    expect(r.code).toBe(0);
    expect(r.out).toContain("warning: route 'demo' can never be served on workers: local (not reachable from workers (reach: node))");
    expect((await runCli(['check', '--runtime', 'workers', '--strict', 'policies/default.yaml'], {})).code).toBe(1);
  });

  it('warns when Workers can serve a route only for some classes', async () => {
    const text = `version: 1
targets:
  lab: { kind: fastllm, url: "http://10.0.0.7:8000", clearance: restricted }
  cloud: { kind: openai-compatible, url: "https://api.example.com/v1", clearance: internal }
routes:
  - { name: mixed, match: { model: "*" }, targets: [cloud, lab] }
`;
    const onWorkers = await runCli(['check', '--runtime', 'workers', 'mixed.yaml'], {}, () => text);
    expect(onWorkers.out).toContain("warning: route 'mixed' refuses confidential, restricted requests on workers: no cleared target (unreachable here: lab)");
    expect(onWorkers.out).toMatch(/internal\s+-> cloud\n/);
    const onNode = await runCli(['check', 'mixed.yaml'], {}, () => text);
    expect(onNode.out).not.toContain('warning');
  });

  it('fails with located errors for a broken file', async () => {
    const r = await runCli(['check', 'bad.yaml'], {}, () => 'version: 2\ntargets: {}\nroutes: []\n');
    expect(r.code).toBe(1);
    expect(r.err).toContain('bad.yaml:1:10: version: Invalid input: expected 1');
  });

  it('hash-key prints the form tenants.*.keys takes', async () => {
    expect((await runCli(['hash-key', 'abc'], {})).out).toBe('sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad\n');
  });
});
