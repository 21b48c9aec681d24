import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['functions/**/*.test.ts', 'infra/**/*.test.ts', 'peer-server/**/*.test.ts', 'test/unit/**/*.test.ts'],
        },
      },
      {
        test: {
          // serverless.yml as osls packages it: no AWS, no cluster; one package per run.
          name: 'deploy',
          include: ['test/deploy/**/*.test.ts'],
          globalSetup: ['./test/deploy/package-setup.ts'],
          testTimeout: 30_000,
          hookTimeout: 180_000,
        },
      },
      {
        test: {
          name: 'integration',
          // End-to-end tests share the control plane and, like every file here, run alone.
          include: ['test/integration/**/*.test.ts', 'test/e2e/**/*.test.ts'],
          globalSetup: ['./test/support/global-setup.ts'],
          // One file at a time: some swap cluster-wide objects (the CRD) or restart the apiserver.
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
