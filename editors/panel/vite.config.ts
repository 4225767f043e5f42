import tailwindcss from "@tailwindcss/vite";
import react from "@vitejs/plugin-react";
import { defineConfig } from "vitest/config";

// One bundle for the browser (served by `tdd-orchestrator serve` under
// /panel/) and the VS Code webview. Relative asset URLs let either host
// place it where it likes.
export default defineConfig({
  base: "./",
  plugins: [react(), tailwindcss()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    // Byte-identical output from the same source and lockfile: the Rust
    // build embeds dist/, and scripts/test checks it matches its source.
    sourcemap: false,
    chunkSizeWarningLimit: 400,
  },
  test: {
    include: ["src/**/*.test.ts"],
  },
});
