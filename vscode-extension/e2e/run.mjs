// The extension in a real VS Code (code-server's VS Code server, Debian's
// Chromium, playwright-core), installed from the VSIX with the real binary
// inside, against a real project and a scripted-worker run. Screenshots go
// to e2e/out/. Needs VSCODE_TOOLS (scripts/vscode-tools installs them),
// TDD_BIN (for the fixture's `init` and the CLI checks) and the VSIX.
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { browser, startVsCode, workspace } from "./harness.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, "../..");
const bin = process.env.TDD_BIN ?? join(repo, "target/debug/tdd-orchestrator");
const vsix = process.env.VSIX ?? join(here, "../tdd-orchestrator-linux-x64.vsix");
const out = join(here, "out");

const failures = [];
function check(ok, what) {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}`);
  if (!ok) failures.push(what);
}

async function waitFor(what, predicate, timeoutMs = 60000) {
  const start = Date.now();
  for (;;) {
    const value = await predicate().catch(() => false);
    if (value) return value;
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Runs a command from the palette by its title. */
async function palette(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor();
  await input.fill(`>${title}`);
  await page.locator(".quick-input-list .monaco-list-row", { hasText: title }).first().click({ timeout: 20000 });
  await page.waitForTimeout(300);
}

async function openFile(page, name) {
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor();
  await input.fill(name);
  // The file search answers after the box opens: pick the row once it is there.
  await page.locator(".quick-input-list .monaco-list-row", { hasText: name }).first().click({ timeout: 20000 });
  await page.waitForSelector(`.tab[aria-label*="${name}"]`);
  await page.waitForTimeout(300);
}

async function goToLine(page, line) {
  await page.keyboard.press("Control+G");
  await page.locator(".quick-input-widget input").fill(`:${line}`);
  await page.keyboard.press("Enter");
  await page.waitForTimeout(200);
}

const text = (page, selector) => page.locator(selector).first().innerText().catch(() => "");

/** The frame of the panel webview (iframe.webview → #active-frame). */
async function panelFrame(page) {
  for (const frame of page.frames()) {
    if (await frame.locator("[data-testid=merged-count]").count().catch(() => 0)) return frame;
  }
  return null;
}

rmSync(out, { recursive: true, force: true });
const ws = workspace(bin, join(repo, ".venv/bin"));
const vscode = await startVsCode(ws, vsix);
const context = await browser(out);
const page = context.pages()[0] ?? (await context.newPage());
const errors = [];
page.on("pageerror", (e) => errors.push(e.message));
if (process.env.DEBUG) page.on("console", (m) => console.log(`console ${m.type()}: ${m.text().slice(0, 300)}`));

try {
  const loaded = Date.now();
  await page.goto(vscode.url);
  await page.waitForSelector(".monaco-workbench", { timeout: 90000 });
  console.log(`workbench shown ${Date.now() - loaded} ms after navigation`);

  // 1. Diagnostics in the Problems view; a quick fix clears one.
  await openFile(page, "notes.prd.md");
  await page.keyboard.press("Control+Shift+M");
  await waitFor("PRD003 in Problems", async () => (await text(page, ".markers-panel")).includes("PRD003"), 30000);
  check((await text(page, ".markers-panel")).includes("PRD003"), "the planted problem is in the Problems view with its code (PRD003)");
  await page.screenshot({ path: join(out, "problems.png") });
  await page.locator(".editor-instance .monaco-editor").first().click();
  await goToLine(page, 12);
  await page.keyboard.press("Control+.");
  const fix = page.locator(".action-widget .monaco-list-row", { hasText: "Insert acceptance criteria skeleton" });
  await fix.waitFor({ timeout: 15000 });
  await fix.click();
  await waitFor("PRD003 to clear", async () => !(await text(page, ".markers-panel")).includes("PRD003"), 20000);
  check(true, "the quick fix applies and PRD003 leaves the Problems view");
  await page.keyboard.press("Control+S");

  // 2. Decompose and run from the palette; the Tasks tree ends merged.
  await openFile(page, "calc.prd.md");
  await palette(page, "TDD: Decompose PRD");
  await page.locator('.activitybar .action-item a[aria-label="TDD"], .activitybar .action-item .action-label[aria-label="TDD"]').first().click();
  const row = (key) => page.locator(`.monaco-list-row[aria-label*="${key}"]`).first();
  await waitFor("the decomposed tasks in the tree", async () => (await row("REQ-2/AC-2.1").count()) > 0, 30000);
  await palette(page, "TDD: Run PRD");
  await waitFor(
    "every task merged in the tree",
    async () => (await row("REQ-1/AC-1.1").innerText()).includes("merged") && (await row("REQ-2/AC-2.1").innerText()).includes("merged"),
    120000,
  );
  check(true, "the Tasks tree ends with every task merged");
  const status = execFileSync(bin, ["status"], { cwd: ws.root, env: ws.env, encoding: "utf8" });
  check(status.includes("done 2"), `\`tdd-orchestrator status\` agrees: ${status.trim().split("\n").pop()}`);
  await page.screenshot({ path: join(out, "tree.png") });

  // 3. The panel webview shows the same counts; the rejected attempt's reasons.
  await palette(page, "TDD: Show Panel");
  const frame = await waitFor("the panel webview", () => panelFrame(page), 30000);
  await waitFor("the webview's merged count", async () => (await frame.locator("[data-testid=count-merged]").innerText()) === "2", 30000);
  check((await frame.locator("[data-testid=merged-count]").innerText()).includes("2/2 merged"), "the webview's board shows 2/2 merged");
  await page.screenshot({ path: join(out, "panel.png") });
  await frame.locator('[data-task="REQ-1/AC-1.1"] a').click();
  await frame.locator('[data-stage="green"][data-passed="false"]').first().waitFor({ timeout: 20000 });
  const rejected = await frame.locator('[data-stage="green"][data-passed="false"]').first().innerText();
  check(rejected.includes("rejected") && rejected.includes("test_add"), "the task detail shows the rejected GREEN with its failing test");
  await page.screenshot({ path: join(out, "panel-detail.png") });

  // 4. The GREEN diff in VS Code's diff editor.
  await palette(page, "TDD: Open Stage Diff");
  await page.locator(".quick-input-widget input").fill("REQ-1/AC-1.1");
  await page.waitForTimeout(300);
  await page.keyboard.press("Enter");
  await page.waitForSelector(".monaco-diff-editor", { timeout: 20000 });
  const modified = await waitFor(
    "the implementation in the diff",
    async () => {
      // The editor draws spaces as no-break spaces.
      const t = (await text(page, ".monaco-diff-editor .editor.modified .view-lines, .monaco-diff-editor .modified-in-monaco-diff-editor .view-lines")).replace(/\u00a0/g, " ");
      return t.includes("return a + b") ? t : false;
    },
    20000,
  );
  check(modified.includes("return a + b"), "the diff editor shows the implementation's change");
  await page.screenshot({ path: join(out, "diff.png") });

  // 5. Trip and reset a breaker from the Breakers view; the status bar follows.
  const statusBar = () => text(page, '.statusbar-item[id*="tddOrchestrator.status"], #tdd-orchestrator\\.tdd-orchestrator\\.tddOrchestrator\\.status');
  const breakerRow = page.locator(".monaco-list-row", { hasText: "system" }).last();
  await breakerRow.hover();
  await breakerRow.locator('.action-label[aria-label="Isolate Breaker"]').click();
  await waitFor("the status bar to show the open breaker", async () => (await statusBar()).includes("breaker open"), 20000);
  check(true, "isolating the system breaker from the view shows it in the status bar");
  await page.screenshot({ path: join(out, "breakers.png") });
  await breakerRow.hover();
  await breakerRow.locator('.action-label[aria-label="Reset Breaker"]').click();
  await waitFor("the status bar to clear", async () => !(await statusBar()).includes("breaker open"), 20000);
  const circuits = JSON.parse(execFileSync(bin, ["circuits", "status", "--format", "json"], { cwd: ws.root, env: ws.env, encoding: "utf8" }));
  check(circuits.breakers.find((b) => b.scope === "system")?.state === "closed", "reset from the view: the store says the system breaker is closed");

  // 6. Activation time, as the extension measured it.
  await palette(page, "TDD: Show Activation Time");
  const note = await waitFor("the activation time", async () => {
    const t = await text(page, ".notifications-toasts");
    return /activated in [\d.]+ ms/.test(t) ? t : false;
  });
  console.log(`activation: ${note.match(/activated in [\d.]+ ms/)[0]}`);
  check(errors.length === 0, `no page error${errors.length ? `: ${errors.join(" | ")}` : ""}`);
} catch (err) {
  failures.push(String(err?.stack ?? err));
  console.error(err);
  await page.screenshot({ path: join(out, "failure.png") }).catch(() => {});
  if (process.env.DEBUG) {
    for (const f of page.frames()) {
      console.log(`frame ${f.url().slice(0, 150)} root=${await f.locator("#root").count().catch(() => "?")}`);
      if (await f.locator("#root").count().catch(() => 0)) {
        console.log(await f.evaluate(() => JSON.stringify({ scripts: [...document.scripts].map((s) => [s.src, s.type, s.nonce, s.textContent.length]), vs: typeof acquireVsCodeApi, keys: Object.keys(document.getElementById("root")), hash: location.hash, body: document.body.innerHTML.slice(0, 300), links: [...document.querySelectorAll("link")].map((l) => l.href), root: document.getElementById("root").innerHTML.length, meta: document.querySelector("meta[http-equiv]")?.content })));
      }
    }
  }
} finally {
  await context.close();
  vscode.stop();
}

// 7. No binary: a message says what to set; the workbench keeps working.
try {
  const vscode2 = await startVsCode(ws, vsix, { "tddOrchestrator.server.path": "/nonexistent/tdd-orchestrator" });
  const context2 = await browser(out);
  const page2 = context2.pages()[0] ?? (await context2.newPage());
  try {
    await page2.goto(vscode2.url);
    await page2.waitForSelector(".monaco-workbench", { timeout: 90000 });
    await openFile(page2, "calc.prd.md");
    const message = await waitFor("the missing-binary message", async () => {
      const t = await text(page2, ".notifications-toasts");
      return t.includes("tddOrchestrator.server.path") ? t : false;
    });
    check(message.includes("is not an executable file"), "with no binary, a message says what to set");
    await page2.screenshot({ path: join(out, "no-binary.png") });
    await palette(page2, "View: Toggle Terminal");
    await page2.waitForSelector(".terminal-wrapper, .terminal", { timeout: 20000 });
    check(true, "… and the workbench keeps working");
  } finally {
    await context2.close();
    vscode2.stop();
  }
} catch (err) {
  failures.push(String(err?.stack ?? err));
  console.error(err);
}

if (!process.env.KEEP) rmSync(ws.dir, { recursive: true, force: true });
else console.log(`kept ${ws.root}`);
if (failures.length) {
  console.error(`\n${failures.length} check(s) failed`);
  process.exit(1);
}
console.log("vscode e2e: all checks passed");
