// Bundles the extension (esbuild: one file, vscode-languageclient inside),
// copies the panel UI's built bundle in, and with --package puts the
// server binary in `server/` and packages a platform-specific VSIX with vsce.
//   node build.mjs                      dist/extension.js + dist/panel/
//   TDD_BIN=… node build.mjs --package  also tdd-orchestrator-linux-x64.vsix
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "..");

rmSync(join(here, "dist"), { recursive: true, force: true });
await build({
  entryPoints: [join(here, "src/extension.ts")],
  bundle: true,
  outfile: join(here, "dist/extension.js"),
  platform: "node",
  format: "cjs",
  target: "node20",
  external: ["vscode"],
  minify: true,
  sourcemap: false,
  logLevel: "warning",
});
cpSync(join(repo, "editors/panel/dist"), join(here, "dist/panel"), { recursive: true });

if (process.argv.includes("--package")) {
  const bin = process.env.TDD_BIN ?? join(repo, "target/release/tdd-orchestrator");
  if (!existsSync(bin)) throw new Error(`no server binary at ${bin}: build it, or set TDD_BIN`);
  mkdirSync(join(here, "server"), { recursive: true });
  copyFileSync(bin, join(here, "server/tdd-orchestrator"));
  chmodSync(join(here, "server/tdd-orchestrator"), 0o755);
  // Symbols are not needed to run it; a debug build shrinks by half.
  try {
    execFileSync("strip", [join(here, "server/tdd-orchestrator")]);
  } catch {
    console.warn("strip is not available: the binary is packaged as built");
  }
  const vsce = process.env.VSCE ?? join(here, "node_modules/.bin/vsce");
  const out = join(here, "tdd-orchestrator-linux-x64.vsix");
  execFileSync(vsce, ["package", "--target", "linux-x64", "--no-dependencies", "--skip-license", "-o", out], {
    cwd: here,
    stdio: "inherit",
  });
  console.log(`wrote ${out}`);
}
