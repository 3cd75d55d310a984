import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRecord } from '../../src/observability/audit.js';
import { startSchemaFake } from './support/schema-fake.js';
import {
  deepfabricEnv,
  ensureDeepFabric,
  FASTLLM,
  fastllmAvailable,
  REPO,
  runVenv,
  startFastllm,
  startHeddle,
  type Heddle,
  type Node,
} from './support/stack.js';

// DeepFabric (pinned, from PyPI) -> Heddle -> the real `fastllm` binary on the bundled demo model, through every
// DeepFabric setting that can point at Heddle: provider openai (OPENAI_BASE_URL), provider ollama (base_url and
// OLLAMA_HOST), provider anthropic (ANTHROPIC_BASE_URL), the evaluation `llm` backend (base_url) and
// `deepfabric evaluate --backend ollama` (OLLAMA_HOST). All scenarios run in one Python process (see
// deepfabric_driver.py). HEDDLE_E2E_UPSTREAM=fake swaps the node for a schema-perfect fake (development only).

interface DatasetCheck { exists: boolean; samples: number; valid: number; errors: string[]; failures: number; failure_reasons: string[] }
interface EvalCheck {
  exists: boolean;
  metrics?: Record<string, number>;
  samples?: number;
  errors?: string[];
  predicted_tools?: Array<string | null>;
}
interface ScenarioResult {
  name: string;
  code: number;
  exception?: string;
  seconds: number;
  started: string;
  ended: string;
  dataset?: DatasetCheck;
  topics?: { exists: boolean; lines: number };
  evaluation?: EvalCheck;
}

const useFake = process.env.HEDDLE_E2E_UPSTREAM === 'fake';
let node: Node | undefined;
let heddle: Heddle;
let report: { import_seconds: number; scenarios: ScenarioResult[] };
let driverLog = '';
/** The node enforces JSON schemas itself (constrained decoding); otherwise Heddle emulates structured output. */
let constrained = false;

/** A node that can constrain decoding says so in /v1/models (`capabilities.json_schema`). */
async function nodeConstrains(url: string): Promise<boolean> {
  const res = await fetch(`${url}/v1/models`);
  const body = (await res.json()) as { data?: Array<{ capabilities?: Record<string, unknown> }> };
  const caps = body.data?.[0]?.capabilities ?? {};
  return caps.json_schema === true || caps.structured_output === true;
}

const MODEL = 'heddle-demo';

function generateConfig(provider: 'openai' | 'ollama' | 'anthropic', mode: 'tree' | 'graph', baseUrl?: string): string {
  return `llm:
  provider: ${provider}
  model: ${MODEL}
  temperature: 0.7
${baseUrl ? `  base_url: ${baseUrl}\n` : ''}topics:
  prompt: "Household budgeting"
  mode: ${mode}
  depth: 1
  degree: 2
  max_concurrent: 2
  max_tokens: 200
  save_as: topics.${mode === 'tree' ? 'jsonl' : 'json'}
generation:
  system_prompt: "You write short, helpful question and answer conversations."
  conversation:
    type: basic
  max_tokens: 400
  max_retries: 1
  sample_retries: 1
output:
  system_prompt: "You are a helpful assistant."
  num_samples: 2
  batch_size: 1
  save_as: dataset.jsonl
`;
}

beforeAll(async () => {
  ensureDeepFabric();
  if (useFake) {
    const fake = await startSchemaFake();
    node = { url: fake.url, close: fake.close };
  } else {
    if (!fastllmAvailable()) throw new Error(`fastllm binary not found at ${FASTLLM}; build native-server first (see native-server/README.md)`);
    node = await startFastllm();
  }
  constrained = useFake || process.env.HEDDLE_E2E_STRUCTURED === 'native' || (await nodeConstrains(node.url));
  heddle = await startHeddle(node.url, { structured: constrained ? 'native' : 'emulate' });

  const work = mkdtempSync(join(tmpdir(), 'heddle-deepfabric-'));
  const dataset = join(REPO, 'test/e2e/fixtures/eval-tools.jsonl');
  const v1 = `${heddle.url}/v1`;
  const scenarios: Array<Record<string, unknown>> = [];
  const dir = (name: string) => {
    const d = join(work, name);
    mkdirSync(d);
    return d;
  };
  const generate = (name: string, provider: 'openai' | 'ollama' | 'anthropic', mode: 'tree' | 'graph', env: Record<string, string>, baseUrl?: string) => {
    const cwd = dir(name);
    writeFileSync(join(cwd, 'config.yaml'), generateConfig(provider, mode, baseUrl));
    scenarios.push({ name, kind: 'cli', cwd, env, args: ['generate', 'config.yaml'], check: { dataset: 'dataset.jsonl', topics: `topics.${mode === 'tree' ? 'jsonl' : 'json'}` } });
  };
  // Evaluation first: it is what the demo model can do (tool calls), and generation may spend minutes in retries.
  scenarios.push({
    name: 'evaluate-llm',
    kind: 'evaluate-llm',
    cwd: dir('evaluate-llm'),
    env: { OPENAI_API_KEY: 'dummy' },
    provider: 'openai',
    model: MODEL,
    base_url: v1,
    dataset,
    output: 'results.json',
    multi_turn: true,
    check: { evaluation: 'results.json' },
  });
  scenarios.push({
    name: 'evaluate-ollama-cli',
    kind: 'cli',
    cwd: dir('evaluate-ollama'),
    env: {},
    args: ['evaluate', MODEL, dataset, '--backend', 'ollama', '--output', 'results.json', '--max-tokens', '128', '--temperature', '0.0'],
    check: { evaluation: 'results.json' },
  });

  // DeepFabric ignores base_url for provider openai: the openai SDK reads OPENAI_BASE_URL.
  generate('openai-tree', 'openai', 'tree', { OPENAI_API_KEY: 'dummy', OPENAI_BASE_URL: v1 });
  generate('openai-graph', 'openai', 'graph', { OPENAI_API_KEY: 'dummy', OPENAI_BASE_URL: v1 });
  // Provider ollama speaks Ollama's OpenAI-compatible /v1 API at base_url; its key check lists OLLAMA_HOST/v1/models.
  generate('ollama-tree', 'ollama', 'tree', {}, v1);
  generate('ollama-graph', 'ollama', 'graph', {}, v1);
  generate('anthropic-tree', 'anthropic', 'tree', { ANTHROPIC_API_KEY: 'dummy', ANTHROPIC_BASE_URL: heddle.url });
  writeFileSync(join(work, 'scenarios.json'), JSON.stringify(scenarios, null, 2));
  const run = await runVenv('python', [join(REPO, 'test/e2e/deepfabric_driver.py'), join(work, 'scenarios.json'), join(work, 'report.json')], {
    cwd: work,
    // The ollama client reads OLLAMA_HOST once, at import.
    env: deepfabricEnv({ OLLAMA_HOST: heddle.url }),
    timeoutMs: 1_100_000,
  });
  driverLog = `${run.stdout}\n${run.stderr}`.slice(-6000);
  report = JSON.parse(readFileSync(join(work, 'report.json'), 'utf8')) as typeof report;
  writeFileSync(join(work, 'audit.jsonl'), heddle.audit.map((r) => JSON.stringify(r)).join('\n'));
  process.stdout.write(`[e2e] work dir ${work}; DeepFabric import ${report.import_seconds} s; ${report.scenarios.map((s) => `${s.name} ${s.seconds} s`).join(', ')}\n`);
});

afterAll(async () => {
  await heddle?.close();
  await node?.close();
});

function scenario(name: string): ScenarioResult {
  const found = report.scenarios.find((s) => s.name === name);
  if (!found) throw new Error(`scenario ${name} did not run:\n${driverLog}`);
  return found;
}

/** Audit records written while a scenario ran. */
function auditOf(s: ScenarioResult): AuditRecord[] {
  return heddle.audit.filter((r) => r.ts >= s.started && r.ts <= s.ended);
}

function expectCompleted(s: ScenarioResult): void {
  expect(s.exception ?? '', `${s.name} raised:\n${s.exception ?? ''}\n${driverLog}`).toBe('');
  expect(s.code, `${s.name} exit code\n${driverLog}`).toBe(0);
}

/**
 * Without constrained decoding the tiny demo model rarely writes JSON matching DeepFabric's schemas, and its 2048-token
 * context is shorter than DeepFabric's conversation prompts, so then the runs must end cleanly rather than succeed:
 * every failure is Heddle's structured_output_invalid (422) or the node's own 4xx relayed, never a 500 or a hang,
 * and a graph whose every expansion failed ends with DeepFabric's "no paths" error. With a constraining node, samples
 * must be produced. Either way, every sample written validates against DeepFabric's Conversation model.
 */
describe.each([
  ['openai-tree', 'chat'],
  ['openai-graph', 'chat'],
  ['ollama-tree', 'chat'],
  ['ollama-graph', 'chat'],
  ['anthropic-tree', 'anthropic.messages'],
])('deepfabric generate: %s', (name, endpoint) => {
  it('ends cleanly, and every sample written validates against DeepFabric’s Conversation', () => {
    const s = scenario(name);
    expect(s.exception ?? '', `${s.name} raised:\n${s.exception ?? ''}\n${driverLog}`).toBe('');
    if (constrained || name.endsWith('tree')) {
      expectCompleted(s);
      expect(s.topics?.exists).toBe(true);
      expect(s.dataset?.exists).toBe(true);
    } else {
      expect([0, 1]).toContain(s.code);
    }
    expect(s.dataset?.errors ?? []).toEqual([]);
    expect(s.dataset?.valid ?? 0).toBe(s.dataset?.samples ?? 0);
    if (constrained) expect(s.dataset?.samples).toBeGreaterThan(0);
  });

  it(`reaches the node through Heddle's ${endpoint} endpoint, and fails only in ways the audit explains`, () => {
    const records = auditOf(scenario(name)).filter((r) => r.endpoint === endpoint);
    expect(records.length).toBeGreaterThan(0);
    for (const r of records) {
      expect(r).toMatchObject({ model: MODEL, route: 'demo' });
      expect(r.attempts.map((a) => a.target)).toContain('node');
      if (r.status === 200) expect(r.target).toBe('node');
      else if (r.status !== 499) {
        const explained = r.error_code === 'structured_output_invalid' || (r.status >= 400 && r.status < 500);
        expect(explained, JSON.stringify(r)).toBe(true);
      }
    }
    if (constrained) expect(records.some((r) => r.status === 200)).toBe(true);
  });
});

describe.each([
  ['evaluate-llm', 'chat'],
  ['evaluate-ollama-cli', 'ollama.chat'],
])('deepfabric evaluation: %s', (name, endpoint) => {
  it('completes and writes metrics for every sample', () => {
    const s = scenario(name);
    expectCompleted(s);
    expect(s.evaluation?.exists).toBe(true);
    expect(s.evaluation?.samples).toBe(3);
    expect(s.evaluation?.metrics).toMatchObject({ samples_evaluated: 3 });
    expect(typeof s.evaluation?.metrics?.tool_selection_accuracy).toBe('number');
  });

  it('sends tools and gets tool calls back through Heddle', () => {
    const s = scenario(name);
    const records = auditOf(s).filter((r) => r.endpoint === endpoint);
    expect(records.length).toBeGreaterThanOrEqual(3);
    expect(records.every((r) => r.status === 200 && r.target === 'node')).toBe(true);
    // Tool-call predictions were parsed (names of tools the model chose), not lost as text.
    expect(s.evaluation?.predicted_tools?.some((t) => typeof t === 'string' && t.length > 0)).toBe(true);
  });
});
