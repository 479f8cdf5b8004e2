import { defineConfig } from 'vitest/config';

// Two projects: `unit` runs everywhere, in parallel; `root` holds tests that build network
// namespaces or open AF_XDP/AF_PACKET sockets, one file at a time (they share the kernel).
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/**/*.test.ts'],
          exclude: ['test/root/**'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'root',
          include: ['test/root/**/*.test.ts'],
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 60_000,
        },
      },
    ],
  },
});
