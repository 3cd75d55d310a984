/**
 * Starts the real Node gateway (src/node.ts startGateway) on 127.0.0.1, a free port, with a policy written to a
 * temp file, for tests that talk to it over HTTP. Audit lines go to `audit` when given, else nowhere; log lines to
 * `options.log` when given, else stderr.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type NodeGatewayOptions, type RunningGateway } from '../../src/node.js';
import type { AuditSink } from '../../src/observability/audit.js';
import { startFakeOpenAi, type FakeOpenAi } from './fake-openai.js';

export interface TestGateway extends RunningGateway {
  baseURL: string;
  policyFile: string;
}

export async function startTestGateway(
  policyYaml: string,
  env: Record<string, string> = {},
  audit: AuditSink | 'off' = 'off',
  options: Pick<NodeGatewayOptions, 'fastPath' | 'log'> = {},
): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'heddle-test-'));
  const policyFile = join(dir, 'policy.yaml');
  writeFileSync(policyFile, policyYaml);
  const gw = await startGateway({ policyFile, host: '127.0.0.1', port: 0, audit, env, watchPolicy: false, ...options });
  return { ...gw, baseURL: `${gw.url}/v1`, policyFile };
}

export interface GatewayOverFake {
  upstream: FakeOpenAi;
  gateway: TestGateway;
  /** Stops the gateway, then the upstream. */
  close(): Promise<void>;
}

/** A fake OpenAI-wire upstream and a gateway whose policy is written around it (most integration tests). */
export async function startGatewayOverFakeOpenAi(
  policy: (upstream: FakeOpenAi) => string,
  options: Pick<NodeGatewayOptions, 'log'> = {},
): Promise<GatewayOverFake> {
  const upstream = await startFakeOpenAi();
  const gateway = await startTestGateway(policy(upstream), {}, 'off', options);
  return {
    upstream,
    gateway,
    close: async () => {
      await gateway.close();
      await upstream.close();
    },
  };
}
