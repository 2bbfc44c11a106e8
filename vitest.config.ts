import { defaultServerConditions } from 'vite';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Workspace packages with a build (@cairn/client) resolve to their TypeScript sources in tests,
  // as they do for tsc (customConditions) and the cairn command (bin/source-condition.mjs).
  ssr: { resolve: { conditions: ['cairn-source', ...defaultServerConditions] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'packages/*/test/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Integration tests start real node processes on a 2-core machine: keep files from
    // competing for the CPU and skewing timeouts.
    fileParallelism: false,
    reporters: ['default'],
  },
});
