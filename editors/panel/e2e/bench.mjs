// The panel's numbers, measured in the real browser against a real serve:
// the first screen's size (gzip), time from navigation to a rendered board
// of a 1,000-task project, and the frame rate while 100 events a second
// arrive. Prints them; asserts nothing. `npm run bench`.
import { execFileSync, spawn } from "node:child_process";
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, makeEnv, pythonProject, serve } from "./projects.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const bin = process.env.TDD_BIN ?? join(repo, "target/debug/tdd-orchestrator");
// The planner groups a requirement's criteria: 250 × 10 criteria make 1,000 tasks.
const REQUIREMENTS = 250;
const CRITERIA = 10;
const EVENTS_PER_SECOND = 100;
const SECONDS = 10;

const pct = (xs, p) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))];

// 1. The first screen's bytes: everything index.html loads.
const dist = join(here, "../dist");
let raw = 0;
let gzip = 0;
for (const file of ["index.html", ...readdirSync(join(dist, "assets")).map((f) => `assets/${f}`)]) {
  const bytes = readFileSync(join(dist, file));
  raw += bytes.length;
  gzip += gzipSync(bytes, { level: 9 }).length;
}
console.log(`bundle: ${(raw / 1024).toFixed(1)} KiB raw, ${(gzip / 1024).toFixed(1)} KiB gzip (budget 300 KiB for the first screen)`);

// 2. A 1,000-task project.
let prd = "# Big\n\n## Requirements\n";
for (let r = 1; r <= REQUIREMENTS; r++) {
  prd += `\n### REQ-${r} Feature ${r}\n\nAs a user, I want feature ${r} so that I get value ${r}.\n\nModule: src/f${r}.py\nTests: tests/test_f${r}.py\n\nAcceptance criteria:\n`;
  for (let c = 1; c <= CRITERIA; c++) prd += `- AC-${r}.${c}: WHEN the user asks for ${r} and ${c} THE SYSTEM SHALL return ${r * c}.\n`;
}
const e = makeEnv(bin, join(repo, ".venv/bin"));
const started = Date.now();
const root = pythonProject(e, "big", prd);
const tasks = JSON.parse(e.tdd(root, ["decompose", "big.prd.md", "--dry-run", "--format", "json"])).tasks.length;
console.log(`project: ${tasks} tasks, set up and decomposed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
const daemon = await serve(e, root);
const id = (await (await fetch(`${daemon.origin}/api/v1/projects`, { headers: { authorization: `Bearer ${daemon.token}` } })).json()).find((p) => p.name === "big").id;

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
await page.goto(daemon.url); // sets the cookie
const board = `${daemon.origin}/#/p/${id}/board`;
const loads = [];
for (let i = 0; i < 7; i++) {
  await page.goto("about:blank");
  const t0 = Date.now();
  await page.goto(board);
  await page.waitForSelector("[data-task]");
  loads.push(Date.now() - t0);
}
console.log(`navigation to a rendered ${tasks}-task board: p50 ${pct(loads, 50)} ms, max ${Math.max(...loads)} ms (${loads.length} loads, cold first: ${loads[0]} ms)`);

// 3. 100 events a second into the store (as a run writes them), while the
// browser counts frames.
const feeder = `
import json, sqlite3, sys, time, random
db = sqlite3.connect(sys.argv[1], timeout=10)
keys = [r[0] for r in db.execute("SELECT key FROM tasks")]
prd = db.execute("SELECT id FROM prds LIMIT 1").fetchone()[0]
rate, seconds = int(sys.argv[2]), int(sys.argv[3])
start = time.time()
for i in range(rate * seconds):
    key = random.choice(keys)
    stage = random.choice(["red", "green", "verify", "refactor"])
    payload = {"stage": stage, "passed": random.random() < 0.8, "worker": "w1", "run": 1, "attempt": 1, "evidence": "bench"}
    db.execute("INSERT INTO events (at, kind, prd_id, task_key, payload) VALUES (strftime('%Y-%m-%dT%H:%M:%fZ','now'), 'stage.attempt', ?, ?, ?)", (prd, key, json.dumps(payload)))
    db.commit()
    time.sleep(max(0, start + (i + 1) / rate - time.time()))
`;
await page.evaluate(() => {
  const w = window;
  w.__frames = [];
  const tick = (t) => {
    w.__frames.push(t);
    w.__raf = requestAnimationFrame(tick);
  };
  w.__raf = requestAnimationFrame(tick);
});
const feed = spawn("python3", ["-c", feeder, join(root, ".tdd/orchestrator.db"), String(EVENTS_PER_SECOND), String(SECONDS)], { stdio: "inherit" });
await new Promise((r) => feed.on("exit", r));
await page.waitForTimeout(1000);
const frames = await page.evaluate(() => {
  cancelAnimationFrame(window.__raf);
  return window.__frames;
});
const gaps = frames.slice(1).map((t, i) => t - frames[i]);
const fps = (frames.length - 1) / ((frames.at(-1) - frames[0]) / 1000);
const shown = Number(await page.getAttribute("[data-last-seq]", "data-last-seq"));
const stored = Number(execFileSync("python3", ["-c", "import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute('SELECT max(seq) FROM events').fetchone()[0])", join(root, ".tdd/orchestrator.db")], { encoding: "utf8" }));
console.log(
  `${EVENTS_PER_SECOND} events/s for ${SECONDS} s: ${fps.toFixed(1)} fps on average, frame time p50 ${pct(gaps, 50).toFixed(1)} ms, p95 ${pct(gaps, 95).toFixed(1)} ms, max ${Math.max(...gaps).toFixed(1)} ms, frames over 33 ms: ${gaps.filter((g) => g > 33.4).length} of ${gaps.length}; the board applied events up to ${shown} of the store's ${stored}`,
);

await browser.close();
daemon.child.kill("SIGTERM");
rmSync(e.dir, { recursive: true, force: true });
