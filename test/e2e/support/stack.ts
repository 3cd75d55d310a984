/**
 * The pieces of a DeepFabric end-to-end run: the pinned DeepFabric venv, a `fastllm` node on the bundled demo
 * model, Heddle (the real Node gateway, audit records captured), and a runner for the `deepfabric` CLI and the
 * venv's Python with telemetry and update checks off.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { startGateway, type RunningGateway } from '../../../src/node.js';
import type { AuditRecord } from '../../../src/observability/audit.js';
import { localServeArgs } from '../../../scripts/native.mjs';

export const REPO = resolve(import.meta.dirname, '../../..');
export const VENV = process.env.HEDDLE_DEEPFABRIC_VENV ?? join(homedir(), '.cache/heddle/deepfabric-venv');
export const FASTLLM = process.env.HEDDLE_FASTLLM_BIN ?? join(homedir(), '.cache/heddle/cargo-target/release/fastllm');
export const DEMO_MODEL = process.env.HEDDLE_DEMO_MODEL ?? join(REPO, 'native-server/demo-model/heddle-demo');

/** Installs the pinned DeepFabric when the venv is missing (scripts/deepfabric/setup.sh; a no-op when present). */
export function ensureDeepFabric(): void {
  const r = spawnSync('bash', [join(REPO, 'scripts/deepfabric/setup.sh')], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('scripts/deepfabric/setup.sh failed');
}

/** DeepFabric's telemetry (PostHog) and PyPI update check off, Hugging Face offline: nothing leaves loopback. */
export function deepfabricEnv(extra: Record<string, string> = {}): Record<string, string> {
  const keep = ['PATH', 'HOME', 'LANG', 'TMPDIR', 'SSL_CERT_FILE'];
  const env: Record<string, string> = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k] as string;
  return {
    ...env,
    PATH: `${join(VENV, 'bin')}:${env.PATH ?? ''}`,
    ANONYMIZED_TELEMETRY: 'False',
    DEEPFABRIC_TESTING: 'True',
    DEEPFABRIC_NO_UPDATE_CHECK: '1',
    HF_HUB_OFFLINE: '1',
    HF_DATASETS_OFFLINE: '1',
    TRANSFORMERS_OFFLINE: '1',
    DO_NOT_TRACK: '1',
    NO_COLOR: '1',
    TERM: 'dumb',
    COLUMNS: '200',
    PYTHONUNBUFFERED: '1',
    ...extra,
  };
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a venv program (deepfabric, python) to completion. */
export function runVenv(program: string, args: string[], options: { cwd: string; env: Record<string, string>; timeoutMs: number }): Promise<RunResult> {
  return new Promise((done) => {
    const child = spawn(join(VENV, 'bin', program), args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr });
    });
  });
}

export async function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const srv = createServer();
    srv.once('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => done(port));
    });
  });
}

export interface Node {
  url: string;
  close(): Promise<void>;
}

export function fastllmAvailable(): boolean {
  return existsSync(FASTLLM) && existsSync(join(DEMO_MODEL, 'config.json'));
}

/** Starts `fastllm serve` on the demo model and waits for /health (it answers 503 while loading). */
export async function startFastllm(): Promise<Node> {
  const port = await freePort();
  const child: ChildProcess = spawn(FASTLLM, localServeArgs(DEMO_MODEL, port), {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`fastllm exited (${child.exitCode}):\n${log}`);
    try {
      if ((await fetch(`${url}/health`)).status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`fastllm did not become healthy in 120 s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    close: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

export interface Heddle extends RunningGateway {
  audit: AuditRecord[];
}

/** The Node gateway with one target for the demo model (structured output emulated unless `native`). */
export async function startHeddle(nodeUrl: string, options: { structured?: 'native' | 'emulate'; cache?: 'off' | 'deterministic' } = {}): Promise<Heddle> {
  const dir = mkdtempSync(join(tmpdir(), 'heddle-e2e-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, deepfabricPolicy(nodeUrl, options.structured ?? 'emulate', options.cache ?? 'off'));
  const audit: AuditRecord[] = [];
  const gw = await startGateway({ policyFile, host: '127.0.0.1', port: 0, audit: (r) => audit.push(r), env: {}, watchPolicy: false, log: () => undefined });
  return { ...gw, audit };
}

/** The cache is off unless asked for, so every request the tests count reaches the node. */
export function deepfabricPolicy(nodeUrl: string, structured: 'native' | 'emulate', cache: 'off' | 'deterministic' = 'off'): string {
  return `version: 1
targets:
  node: { kind: fastllm, url: "${nodeUrl}", clearance: restricted, structured_output: ${structured} }
models:
  heddle-demo: { node: heddle-demo }
routes:
  - { name: demo, match: { model: "*" }, targets: [node] }
resilience:
  timeouts: { first_byte: 120s, idle: 60s, total: 300s }
cache: { mode: ${cache} }
`;
}
