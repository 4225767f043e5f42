import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    // Gives each assertion result a line and column in the JSON report.
    includeTaskLocation: true,
  },
});
