// Real projects for the browser test: git repositories initialised and
// decomposed by the real binary, registered in a throw-away registry.
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
/** Headless, and nothing that reaches for the network on its own. */
export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The editor tests' shared project (tests/fixtures/editors): REQ-1's first
 * GREEN is rejected by its failing test; in this script REQ-2's GREEN never
 * passes, so its stage breaker opens. */
const fixture = (name) => readFileSync(new URL(`../../../tests/fixtures/editors/${name}`, import.meta.url), "utf8");
export const CALC_PRD = fixture("calc.prd.md");
const SCRIPT = fixture("calc-req2-fails.script.toml");

export function makeEnv(bin, venvBin) {
  const dir = mkdtempSync(join(tmpdir(), "tdd-panel-e2e-"));
  const env = {
    ...process.env,
    PATH: `${venvBin}:${process.env.PATH}`,
    PYTHONDONTWRITEBYTECODE: "1",
    XDG_CONFIG_HOME: join(dir, "config"),
    XDG_DATA_HOME: join(dir, "data"),
  };
  const tdd = (cwd, args) => execFileSync(bin, args, { cwd, env, encoding: "utf8", maxBuffer: 256 << 20 });
  const git = (cwd, args) => execFileSync("git", args, { cwd, env, encoding: "utf8" });
  return { dir, env, bin, tdd, git };
}

function write(root, rel, text) {
  mkdirSync(dirname(join(root, rel)), { recursive: true });
  writeFileSync(join(root, rel), text);
}

/** A Python project with the calculator PRD, decomposed, and its script. */
export function pythonProject(e, name, prd = CALC_PRD) {
  const root = join(e.dir, name);
  mkdirSync(root, { recursive: true });
  e.git(root, ["init", "-q", "-b", "main"]);
  e.git(root, ["config", "user.name", "Ada Tester"]);
  e.git(root, ["config", "user.email", "ada@example.com"]);
  write(root, ".gitignore", "__pycache__/\n*.pyc\n.pytest_cache/\n/script.toml\n");
  write(root, "pyproject.toml", `[project]\nname = "${name}"\nversion = "0.1.0"\n`);
  write(root, "pytest.ini", "[pytest]\ntestpaths = tests\n");
  write(root, "conftest.py", "import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent / \"src\"))\n");
  write(root, "src/README", "sources\n");
  write(root, `${name}.prd.md`, prd);
  e.tdd(root, ["init", "--language", "python"]);
  // A stage breaker opens when its task fails once; the worker's stays
  // closed so the run goes on with the other task.
  appendFileSync(join(root, ".tdd/config.toml"), "\n[breakers.stage]\nfailures = 1\n\n[breakers.worker]\nfailures = 10\n");
  e.git(root, ["add", "-A"]);
  e.git(root, ["commit", "-q", "-m", "init"]);
  write(root, "script.toml", SCRIPT);
  e.tdd(root, ["decompose", `${name}.prd.md`]);
  return root;
}

/** `serve --port 0` in `root`; resolves with its URL (token included). */
export function serve(e, root) {
  const child = spawn(e.bin, ["serve", "--port", "0"], { cwd: root, env: e.env, stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    const timer = setTimeout(() => reject(new Error("serve printed no URL in 20 s")), 20000);
    lines.on("line", (line) => {
      const url = line.split(/\s+/).find((w) => w.startsWith("http://"));
      if (url) {
        clearTimeout(timer);
        resolve({ child, url, origin: new URL(url).origin, token: new URL(url).searchParams.get("token") });
      }
    });
    child.on("exit", (code) => reject(new Error(`serve exited with ${code}`)));
  });
}

/** The scripted run, as a user starts it in a terminal. */
export function startRun(e, root, name) {
  const child = spawn(e.bin, ["run", `${name}.prd.md`, "--script", "script.toml", "--workers", "1", "--plain"], {
    cwd: root,
    env: e.env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const done = new Promise((resolve) => child.on("exit", (code) => resolve({ code, output })));
  return { child, done };
}
