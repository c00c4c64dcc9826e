import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: [
      'functions/**/*.test.ts',
      'test/**/*.test.ts',
      'db/**/*.test.ts',
      'scripts/**/*.test.ts',
      'sandbox/**/*.test.ts',
      'openapi/**/*.test.ts',
      'client/**/*.test.ts',
      'bench/**/*.test.ts',
      'soak/**/*.test.ts',
      'fuzz/**/*.test.ts',
    ],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    benchmark: { include: ['bench/**/*.bench.ts', 'functions/**/*.bench.ts'] },
  },
})
