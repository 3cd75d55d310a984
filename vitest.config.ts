import { defineConfig } from 'vitest/config';

// Two projects: the gateway under Node (unit + integration over real loopback HTTP),
// and (added with the Workers entry) the same app under workerd.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'node',
          include: ['test/unit/**/*.test.ts', 'test/integration/**/*.test.ts'],
          testTimeout: 30_000,
          hookTimeout: 120_000,
        },
      },
      './vitest.workers.config.ts',
    ],
  },
});
