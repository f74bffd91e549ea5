import { defineConfig } from "vitest/config";

// Three projects so CI output says which layer failed: unit (no I/O), int (express app + real
// store + nock), e2e (headless Chromium; skips itself with a reason when Chromium is absent).
export default defineConfig({
  test: {
    projects: [
      { test: { name: "unit", include: ["test/unit/**/*.unit.test.ts"], environment: "node" } },
      {
        test: {
          name: "int",
          include: ["test/int/**/*.int.test.ts"],
          environment: "node",
          testTimeout: 30_000,
          hookTimeout: 30_000,
        },
      },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.e2e.test.ts"],
          environment: "node",
          testTimeout: 60_000,
          hookTimeout: 120_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
