// The Tasks tree: PRD → requirement → task, with state icons and the
// current stage and attempt as the description, live from the model.

import * as vscode from "vscode";
import type { TaskView } from "../../editors/panel/src/generated/protocol";
import type { ProjectModel } from "./model";

export type Node =
  | { kind: "prd"; path: string }
  | { kind: "requirement"; prd: string; requirement: string }
  | { kind: "task"; task: TaskView };

const ICONS: Record<string, [string, string | undefined]> = {
  done: ["pass-filled", "testing.iconPassed"],
  failed: ["error", "testing.iconFailed"],
  blocked: ["circle-slash", "testing.iconFailed"],
  running: ["sync~spin", "charts.blue"],
  passed: ["sync~spin", "charts.blue"],
  cancelled: ["circle-slash", "disabledForeground"],
  pending: ["circle-large-outline", undefined],
  ready: ["circle-large-outline", undefined],
};

export class TasksView implements vscode.TreeDataProvider<Node> {
  private readonly changed = new vscode.EventEmitter<Node | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly model: ProjectModel) {
    model.onDidChange(() => this.changed.fire(undefined));
  }

  getChildren(node?: Node): Node[] {
    const snapshot = this.model.state.snapshot;
    if (!snapshot) return [];
    if (!node) return snapshot.prds.filter((p) => snapshot.tasks.some((t) => t.prd === p.path)).map((p) => ({ kind: "prd", path: p.path }));
    if (node.kind === "prd") {
      const requirements = [...new Set(snapshot.tasks.filter((t) => t.prd === node.path).map((t) => t.requirement ?? "setup"))];
      return requirements.map((requirement) => ({ kind: "requirement", prd: node.path, requirement }));
    }
    if (node.kind === "requirement") {
      return snapshot.tasks
        .filter((t) => t.prd === node.prd && (t.requirement ?? "setup") === node.requirement)
        .map((task) => ({ kind: "task", task }));
    }
    return [];
  }

  getTreeItem(node: Node): vscode.TreeItem {
    const snapshot = this.model.state.snapshot!;
    if (node.kind === "prd") {
      const tasks = snapshot.tasks.filter((t) => t.prd === node.path);
      const item = new vscode.TreeItem(node.path, vscode.TreeItemCollapsibleState.Expanded);
      item.description = `${tasks.filter((t) => t.state === "done").length}/${tasks.length} merged`;
      item.iconPath = new vscode.ThemeIcon("file-text");
      item.id = `prd:${node.path}`;
      return item;
    }
    if (node.kind === "requirement") {
      const tasks = snapshot.tasks.filter((t) => t.prd === node.prd && (t.requirement ?? "setup") === node.requirement);
      const item = new vscode.TreeItem(node.requirement, vscode.TreeItemCollapsibleState.Expanded);
      item.description = `${tasks.filter((t) => t.state === "done").length}/${tasks.length}`;
      item.id = `req:${node.prd}:${node.requirement}`;
      return item;
    }
    const t = node.task;
    const item = new vscode.TreeItem(`${t.key}`, vscode.TreeItemCollapsibleState.None);
    const [icon, color] = ICONS[t.state] ?? ["circle-large-outline", undefined];
    item.iconPath = new vscode.ThemeIcon(icon, color ? new vscode.ThemeColor(color) : undefined);
    item.description =
      t.state === "running" || t.state === "passed"
        ? `${(t.stage ?? "red").toUpperCase()} · attempt ${t.attempts}${t.worker ? ` · ${t.worker}` : ""}`
        : t.state === "done"
          ? "merged"
          : t.state;
    item.tooltip = new vscode.MarkdownString(
      `**${t.key}** ${t.title}\n\n${t.state}${t.last_failure ? `\n\n${t.last_failure}` : ""}`,
    );
    item.contextValue = "task";
    item.id = `task:${t.prd}:${t.key}`;
    item.command = { command: "tddOrchestrator.showDetail", title: "Show Task Detail", arguments: [node] };
    return item;
  }
}
