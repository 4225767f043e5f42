// The panel in a real browser (Debian's Chromium through playwright-core)
// against a real `tdd-orchestrator serve` while the real binary runs a
// scripted-worker run. Saves a screenshot of every screen at 1400 and 320
// px, light and dark, in e2e/out/. `npm run e2e`; TDD_BIN names the binary.
import { mkdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { CHROMIUM, CHROMIUM_ARGS, makeEnv, pythonProject, serve, startRun } from "./projects.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../../..");
const bin = process.env.TDD_BIN ?? join(repo, "target/debug/tdd-orchestrator");
const out = join(here, "out");


const failures = [];
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

async function waitFor(what, predicate, timeoutMs = 60000) {
  const start = Date.now();
  for (;;) {
    const value = await predicate();
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** `tdd-orchestrator status`'s counts: "tasks: done 1, failed 1". */
function statusCounts(text) {
  const line = text.split("\n").find((l) => l.trim().startsWith("tasks:")) ?? "";
  return Object.fromEntries([...line.matchAll(/([a-z]+) (\d+)/g)].map((m) => [m[1], Number(m[2])]));
}

rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const e = makeEnv(bin, join(repo, ".venv/bin"));
const calc = pythonProject(e, "calc");
const notes = pythonProject(e, "notes");
const gone = pythonProject(e, "gone");
e.tdd(calc, ["projects", "add", notes]);
e.tdd(calc, ["projects", "add", gone]);
rmSync(gone, { recursive: true, force: true });
const daemon = await serve(e, calc);
const projects = await (await fetch(`${daemon.origin}/api/v1/projects`, { headers: { authorization: `Bearer ${daemon.token}` } })).json();
const calcId = projects.find((p) => p.name === "calc").id;

const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
const page = await context.newPage();
const consoleErrors = [];
page.on("console", (m) => m.type() === "error" && consoleErrors.push(`${page.url()}: ${m.text()}`));
page.on("pageerror", (err) => consoleErrors.push(`${page.url()}: ${err.message}`));

const shots = [];
async function screenshots(name) {
  for (const scheme of ["light", "dark"]) {
    await page.emulateMedia({ colorScheme: scheme });
    for (const width of [1400, 320]) {
      await page.setViewportSize({ width, height: 900 });
      await page.waitForTimeout(150);
      const file = join(out, `${name}-${width}-${scheme}.png`);
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
    }
  }
  await page.emulateMedia({ colorScheme: "light" });
  await page.setViewportSize({ width: 1400, height: 900 });
}

try {
  // The printed URL sets the cookie and leaves the token out of the address.
  await page.goto(daemon.url);
  check(!page.url().includes("token="), "the token leaves the address bar");

  // Overview: three projects, the deleted one listed as missing.
  await page.waitForSelector('[data-testid="project"]');
  await waitFor("three projects", async () => (await page.locator('[data-testid="project"]').count()) === 3);
  const cards = await page.locator('[data-testid="project"]').allInnerTexts();
  check(cards.length === 3, `the overview lists three projects (${cards.length})`);
  check(cards.some((c) => c.includes("gone") && c.includes("missing")), "the deleted project is listed as missing");
  await screenshots("overview");

  // Board: the run starts in a terminal; the panel follows it live.
  await page.click(`a[aria-label="Open calc"]`);
  await page.waitForSelector('[data-column="pending"]');
  const run = startRun(e, calc, "calc");
  await waitFor("a card to leave Pending", async () => (await page.locator('[data-column="pending"] [data-task]').count()) < 2);
  // Reload mid-run: the snapshot plus the events after it, nothing lost or twice.
  await waitFor("REQ-1's first GREEN to be judged", async () => Number(await page.locator('[data-task="REQ-1/AC-1.1"]').getAttribute("data-attempts")) >= 2);
  await page.reload();
  await page.waitForSelector('[data-column="pending"]');
  const seen = new Set();
  await waitFor("REQ-1 in Merged", async () => {
    for (const column of ["red", "green", "verify", "refactor"]) {
      if (await page.locator(`[data-column="${column}"] [data-task]`).count()) seen.add(column);
    }
    return (await page.locator('[data-column="merged"] [data-task="REQ-1/AC-1.1"]').count()) === 1;
  });
  const finished = await run.done;
  check(finished.code !== null, `the run ended (exit ${finished.code})`);
  await waitFor("REQ-2 in Failed", async () => (await page.locator('[data-column="failed"] [data-task="REQ-2/AC-2.1"]').count()) === 1, 30000);
  check(seen.size > 0, `cards were seen in the working columns: ${[...seen].join(", ")}`);
  const status = statusCounts(e.tdd(calc, ["status"]));
  const merged = Number(await page.textContent('[data-testid="count-merged"]'));
  const failed = Number(await page.textContent('[data-testid="count-failed"]'));
  check(merged === (status.done ?? 0) && failed === (status.failed ?? 0) + (status.blocked ?? 0), `board counts ${merged} merged, ${failed} failed match \`status\` ${JSON.stringify(status)}`);
  // What the reducer built across the reload equals a fresh snapshot, once
  // it has applied every event the store holds.
  const snapshot = await page.evaluate(async (id) => (await fetch(`/api/v1/projects/${id}/snapshot`)).json(), calcId);
  await waitFor("the panel to apply the whole log", async () => Number(await page.getAttribute("[data-last-seq]", "data-last-seq")) >= snapshot.last_seq, 10000);
  check((await page.innerText("header")).includes("run 1: failed"), "the header shows the run's end");
  const board = await page.$$eval("[data-task]", (els) => els.map((el) => [el.getAttribute("data-task"), el.getAttribute("data-state"), Number(el.getAttribute("data-attempts"))]));
  const truth = snapshot.tasks.map((t) => [t.key, t.state, t.attempts]);
  check(JSON.stringify(board.sort()) === JSON.stringify(truth.sort()), `after a reload mid-run the board equals the store: ${JSON.stringify(board)} vs ${JSON.stringify(truth)}`);
  const failedText = await page.locator('[data-task="REQ-2/AC-2.1"] [data-testid="last-result"]').innerText();
  check(failedText.length > 0, `the failed card shows its last reason: ${failedText}`);
  await screenshots("board");

  // Task detail: the rejected GREEN with its failing test; the GREEN diff.
  await page.click('[data-task="REQ-1/AC-1.1"] a');
  await page.waitForSelector('[aria-label="Stage timeline"]');
  const rejected = page.locator('[data-stage="green"][data-passed="false"]').first();
  check((await rejected.count()) === 1, "the rejected GREEN attempt is listed");
  const rejectedText = await rejected.innerText();
  check(/test_add/.test(rejectedText), `its failing test is named: ${rejectedText.slice(0, 200)}`);
  check(/assert|5|-1/.test(await rejected.locator('[data-testid="failing-test"]').first().innerText()), "the failing test's message is shown");
  const greenDiff = await page.locator('[data-testid="diff-green"]').last().innerText();
  check(greenDiff.includes("return a + b"), "the GREEN diff shows the implementation");
  await screenshots("task");

  // Workers and breakers: the tripped stage breaker, reset from the UI.
  await page.click('nav a:has-text("Workers")');
  const breaker = page.locator('[data-breaker="stage:REQ-2/AC-2.1:green"]');
  await breaker.waitFor();
  check((await breaker.getAttribute("data-state")) === "open", "REQ-2's GREEN breaker is open after its failures");
  await screenshots("workers");
  await breaker.locator('button:has-text("Reset")').click();
  await waitFor("the breaker shown closed", async () => (await breaker.getAttribute("data-state")) === "closed", 10000);
  const circuits = JSON.parse(e.tdd(calc, ["circuits", "status", "--format", "json"]));
  const stored = circuits.breakers.find((b) => b.scope === "stage" && b.name === "REQ-2/AC-2.1:green");
  check(stored?.state === "closed", `the store says the breaker is closed (${stored?.state})`);

  // Metrics.
  await page.click('nav a:has-text("Metrics")');
  await page.waitForSelector('[aria-label="Tasks merged over time"]');
  await page.waitForSelector(".uplot");
  await screenshots("metrics");

  // PRD: errors as `validate` finds them; a clean PRD's plan as `decompose --dry-run`.
  await page.click('nav a:has-text("PRD")');
  const broken = "# Broken\n\n## Requirements\n\n### REQ-1 Add\n\nAs a user, I want to add.\n\nAcceptance criteria:\n- AC-1.1: the sum is shown quickly.\n- AC-1.1: WHEN the user adds 2 and 3 THE SYSTEM SHALL return 5.\n";
  const { writeFileSync } = await import("node:fs");
  writeFileSync(join(e.dir, "broken.prd.md"), broken);
  const validate = JSON.parse(execSafe(e, calc, ["validate", join(e.dir, "broken.prd.md"), "--format", "json"]));
  const expected = validate.files[0].diagnostics.map((d) => `${d.code}:${d.line}:${d.column}`);
  await page.fill('[aria-label="PRD path"]', "broken.prd.md");
  await page.fill('[aria-label="PRD text"]', broken);
  await page.click('button:has-text("Check and plan")');
  await page.waitForSelector('[aria-label="Diagnostics"]');
  const shown = await page.$$eval("[data-code]", (els) => els.map((el) => `${el.getAttribute("data-code")}:${el.getAttribute("data-line")}:${el.getAttribute("data-col")}`));
  check(expected.length > 0 && JSON.stringify(shown) === JSON.stringify(expected), `the PRD screen shows validate's diagnostics: ${JSON.stringify(shown)} vs ${JSON.stringify(expected)}`);
  await screenshots("prd-errors");
  await page.fill('[aria-label="PRD path"]', "calc.prd.md");
  await page.fill('[aria-label="PRD text"]', "");
  await page.click('button:has-text("Check and plan")');
  await page.waitForSelector('[aria-label="Waves"]');
  const dry = JSON.parse(e.tdd(calc, ["decompose", "calc.prd.md", "--dry-run", "--format", "json"]));
  const planned = await page.$$eval("[data-wave]", (waves) => waves.map((w) => [...w.querySelectorAll("[data-planned]")].map((t) => t.getAttribute("data-planned"))));
  check(JSON.stringify(planned) === JSON.stringify(dry.waves), `the plan's waves match decompose --dry-run: ${JSON.stringify(planned)}`);
  await screenshots("prd-plan");

  // The embeddable card and the badge.
  await page.goto(`${daemon.origin}/embed/${calcId}`);
  await page.waitForSelector('[aria-label="Project status"]');
  check((await page.innerText('[aria-label="Project status"]')).includes("1/2 merged"), "the embed card shows the progress");
  const badge = await page.evaluate(async (id) => (await fetch(`/badge/${id}.svg`)).text(), calcId);
  check(badge.includes("1/2 merged, 1 failed"), "the badge says what the board says");
  const anonymous = await fetch(`${daemon.origin}/assets/x.js`);
  check(anonymous.status === 401, `assets need the token (${anonymous.status})`);

  check(consoleErrors.length === 0, `no console error on any screen${consoleErrors.length ? `: ${consoleErrors.join(" | ")}` : ""}`);
} catch (err) {
  failures.push(String(err?.stack ?? err));
  console.error(err);
  if (consoleErrors.length) console.error(`console: ${consoleErrors.join("\n")}`);
  await page.screenshot({ path: join(out, "failure.png"), fullPage: true }).catch(() => {});
} finally {
  await browser.close();
  daemon.child.kill("SIGTERM");
  rmSync(e.dir, { recursive: true, force: true });
}

console.log(`${shots.length} screenshots in ${out}`);
if (failures.length) {
  console.error(`\n${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("panel e2e: all checks passed");

function execSafe(env, cwd, args) {
  // `validate` exits 1 when it finds errors; its JSON is still the answer.
  try {
    return env.tdd(cwd, args);
  } catch (err) {
    if (err.stdout) return err.stdout;
    throw err;
  }
}
