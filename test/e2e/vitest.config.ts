import { defineConfig } from 'vitest/config';

// DeepFabric end to end: the pinned DeepFabric (PyPI, in a venv outside the repo) through Heddle to the real
// `fastllm` binary on the bundled demo model. Slow (minutes), so it is its own project, run by `npm test` after
// `bash scripts/deepfabric/setup.sh` and the Rust build: `vitest run --config test/e2e/vitest.config.ts`.
export default defineConfig({
  test: {
    name: 'e2e',
    root: '.',
    include: ['test/e2e/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 1_200_000,
    fileParallelism: false,
  },
});
