// `npm start`: the FastLLM node on the bundled demo model (built on first run), then the gateway routing to it
// with policies/default.yaml on http://127.0.0.1:8787, bundled and run on plain node as scripts/gateway.mjs says.
// Set HEDDLE_NODE_URL to use a node that already runs.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { runGateway } from './gateway.mjs';
import { buildFastllm, demoModel, fastllmBinary, localServeArgs, repoRoot, waitHealthy } from './native.mjs';

const children = [];
const stopAll = (code) => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  process.exit(code);
};
process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));

const env = { ...process.env };
if (!env.HEDDLE_NODE_URL) {
  const port = env.FASTLLM_PORT ?? '8000';
  console.log('Building the FastLLM node (first run takes a while; later runs are incremental)...');
  if ((await buildFastllm()) !== 0 || !existsSync(fastllmBinary)) {
    console.error('Could not build native-server/ (see the cargo output above).');
    process.exit(1);
  }
  const node = spawn(fastllmBinary, localServeArgs(env.FASTLLM_MODEL ?? demoModel, port), {
    stdio: 'inherit',
    cwd: repoRoot,
  });
  children.push(node);
  node.on('exit', (code) => {
    console.error(`The FastLLM node exited (${code}).`);
    stopAll(1);
  });
  env.HEDDLE_NODE_URL = `http://127.0.0.1:${port}`;
  if (!(await waitHealthy(env.HEDDLE_NODE_URL, node, 300))) {
    console.error(`The FastLLM node did not become healthy on ${env.HEDDLE_NODE_URL}.`);
    stopAll(1);
  }
}

// The gateway as production runs it: bundled (rebuilt on every start, ~0.1 s) on plain node; see scripts/gateway.mjs.
let gateway;
try {
  gateway = await runGateway({ env });
} catch (err) {
  console.error(`Could not build the gateway: ${err instanceof Error ? err.message : String(err)}`);
  stopAll(1);
}
children.push(gateway);
gateway.on('exit', (code) => stopAll(code ?? 0));
