import { cloudflareTest } from '@cloudflare/vitest-pool-workers';
import { defineProject } from 'vitest/config';
import { UPSTREAM_KEY, UPSTREAM_MODEL } from './test/workers/upstream.global.js';

// The gateway under workerd: src/worker.ts is the `main` Worker (bundled policy rule and compatibility date from
// wrangler.toml), its policy overridden through the HEDDLE_POLICY_YAML binding to point at the loopback upstream
// that test/workers/upstream.global.ts starts in Node.

function testPolicy(upstreamUrl: string): string {
  return [
    'version: 1',
    'targets:',
    `  up: { kind: openai-compatible, url: "${upstreamUrl}", api_key: "\${UPSTREAM_KEY}", clearance: restricted, reach: [workers] }`,
    'models:',
    `  m: { up: ${UPSTREAM_MODEL} }`,
    'routes:',
    '  - match: { model: m }',
    '    targets: [up]',
    '',
  ].join('\n');
}

export default defineProject({
  plugins: [
    cloudflareTest(({ inject }) => ({
      main: './src/worker.ts',
      wrangler: { configPath: './wrangler.toml' },
      miniflare: {
        // The test harness (not the gateway) needs Node APIs inside workerd.
        compatibilityFlags: ['nodejs_compat'],
        bindings: { HEDDLE_POLICY_YAML: testPolicy(inject('upstreamUrl')), UPSTREAM_KEY },
        // Not named HEDDLE_POLICY_KV, so the chat tests keep the policy above; policy.test.ts passes it explicitly.
        kvNamespaces: ['POLICY_KV_TEST'],
        // Breakers shared between isolates (src/resilience/durable.ts), class exported by src/worker.ts.
        durableObjects: { HEDDLE_BREAKERS: 'HeddleBreakers' },
      },
    })),
  ],
  test: {
    name: 'workers',
    include: ['test/workers/**/*.test.ts'],
    globalSetup: ['./test/workers/upstream.global.ts'],
    testTimeout: 30_000,
  },
});
