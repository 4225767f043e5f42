// The palette's and views' commands. Server commands go through
// `workspace/executeCommand` under their own names (`tdd.run`, …); the
// extension's are `tddOrchestrator.*`, so neither shadows the other.

import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import type { BreakerView, TaskDetail, TaskView } from "../../editors/panel/src/generated/protocol";
import type { Command } from "../../editors/panel/src/transport";
import { openStageDiff } from "./diff";
import type { ProjectModel } from "./model";
import type { Node } from "./tasks";

/** The PRD a command is about: the active editor's, else the project's first. */
function prdUri(model: ProjectModel): string | undefined {
  const editor = vscode.window.activeTextEditor?.document.uri;
  if (editor && /\.prd\.(md|ya?ml|json)$|_spec\.txt$/.test(editor.fsPath)) return editor.toString();
  const first = model.state.snapshot?.prds[0]?.path;
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  if (first && folder) return vscode.Uri.joinPath(folder, first).toString();
  return editor?.toString();
}

/** A panel action as a server command and its argument. */
export function serverCommand(command: Command, model: ProjectModel): [string, Record<string, unknown>] {
  const uri = prdUri(model);
  switch (command.kind) {
    case "run":
      return command.resume ? ["tdd.resume", { uri }] : ["tdd.run", { uri, requirement: command.requirement }];
    case "pause":
      return ["tdd.pause", { uri }];
    case "continue":
      return ["tdd.resume", { uri }];
    case "cancel":
      return ["tdd.cancel", { uri }];
    case "retry":
      return ["tdd.retry", { task: command.task, prd: command.prd, fresh: command.fresh ?? false }];
    case "skip":
      return ["tdd.skip", { task: command.task, prd: command.prd, reason: command.reason }];
    case "done":
      return ["tdd.done", { task: command.task, prd: command.prd }];
    case "breaker":
      return [command.action === "reset" ? "tdd.resetBreaker" : "tdd.isolateBreaker", { scope: command.scope, name: command.name, reason: command.reason }];
  }
}

/** The task a command is about: the tree node, else one picked. */
async function taskOf(model: ProjectModel, node?: Node | TaskView): Promise<TaskView | undefined> {
  // A tree node carries its task; a task view (the panel) is one.
  if (node && "task" in node && typeof node.task === "object") return node.task;
  if (node && "key" in node) return node as TaskView;
  const tasks = model.state.snapshot?.tasks ?? [];
  const picked = await vscode.window.showQuickPick(
    tasks.map((t) => ({ label: t.key, description: `${t.state} · ${t.title}`, task: t })),
    { placeHolder: "Which task?" },
  );
  return picked?.task;
}

export function registerCommands(context: vscode.ExtensionContext, client: LanguageClient, model: ProjectModel): void {
  const root = () => vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? "";
  const register = (name: string, fn: (...args: never[]) => unknown) =>
    context.subscriptions.push(vscode.commands.registerCommand(name, fn as (...args: unknown[]) => unknown));
  const run = (command: string, args: Record<string, unknown>) => model.execute(command, args);

  register("tddOrchestrator.decompose", () => run("tdd.decompose", { uri: prdUri(model) }));
  register("tddOrchestrator.dryRun", () => run("tdd.decomposeDryRun", { uri: prdUri(model) }));
  register("tddOrchestrator.run", (requirement?: string) =>
    run("tdd.run", { uri: prdUri(model), requirement: typeof requirement === "string" ? requirement : undefined }),
  );
  register("tddOrchestrator.resume", () => run("tdd.resume", { uri: prdUri(model) }));
  register("tddOrchestrator.pause", () => run("tdd.pause", { uri: prdUri(model) }));
  register("tddOrchestrator.cancel", () => run("tdd.cancel", { uri: prdUri(model) }));
  register("tddOrchestrator.refresh", () => model.refresh());
  register("tddOrchestrator.showPanel", () => vscode.commands.executeCommand("tddOrchestrator.panel.focus"));
  register("tddOrchestrator.showDetail", async (node?: Node) => {
    const task = await taskOf(model, node);
    if (!task) return;
    const detail = await client.sendRequest<TaskDetail>("tdd/taskDetail", { task: task.key, prd: task.prd });
    const doc = await vscode.workspace.openTextDocument({ content: detailText(detail), language: "markdown" });
    await vscode.window.showTextDocument(doc, { preview: true });
  });
  register("tddOrchestrator.openDiff", async (node?: Node) => {
    const task = await taskOf(model, node);
    if (!task) return false;
    const detail = await client.sendRequest<TaskDetail>("tdd/taskDetail", { task: task.key, prd: task.prd });
    return openStageDiff(root(), detail);
  });
  register("tddOrchestrator.retry", async (node?: Node) => {
    const task = await taskOf(model, node);
    if (task) await run("tdd.retry", { task: task.key, prd: task.prd });
  });
  register("tddOrchestrator.skip", async (node?: Node) => {
    const task = await taskOf(model, node);
    if (task) await run("tdd.skip", { task: task.key, prd: task.prd, reason: "skipped from VS Code" });
  });
  register("tddOrchestrator.done", async (node?: Node) => {
    const task = await taskOf(model, node);
    if (task) await run("tdd.done", { task: task.key, prd: task.prd });
  });
  register("tddOrchestrator.resetBreaker", async (b?: BreakerView) => {
    if (b) await run("tdd.resetBreaker", { scope: b.scope, name: b.name });
  });
  register("tddOrchestrator.isolateBreaker", async (b?: BreakerView) => {
    if (b) await run("tdd.isolateBreaker", { scope: b.scope, name: b.name, reason: "isolated from VS Code" });
  });
}

/** A task's evidence as Markdown: attempts, verdicts, failing tests. */
export function detailText(detail: TaskDetail): string {
  const t = detail.task;
  const lines = [`# ${t.key} ${t.title}`, "", `${t.state} · ${t.prd} · wave ${t.wave}`, ""];
  for (const a of detail.attempts) {
    lines.push(`## ${a.stage.toUpperCase()} #${a.attempt}: ${a.passed ? "passed" : "rejected"}${a.failure_kind ? ` (${a.failure_kind})` : ""}`, "");
    if (a.evidence) lines.push("```", a.evidence, "```", "");
    const report = (a.report ?? {}) as { failures?: { id?: string; message?: string }[] };
    for (const f of report.failures ?? []) {
      lines.push(`- \`${f.id ?? "?"}\``, "", "```", f.message ?? "", "```", "");
    }
  }
  return lines.join("\n");
}
