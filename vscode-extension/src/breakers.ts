// The Breakers view: system, provider, worker and stage breakers by state,
// with reset (a tripped one) and isolate (a closed one) inline.

import * as vscode from "vscode";
import type { BreakerView } from "../../editors/panel/src/generated/protocol";
import type { ProjectModel } from "./model";

const ORDER = ["system", "provider", "worker", "stage"];

export class BreakersView implements vscode.TreeDataProvider<BreakerView> {
  private readonly changed = new vscode.EventEmitter<BreakerView | undefined>();
  readonly onDidChangeTreeData = this.changed.event;

  constructor(private readonly model: ProjectModel) {
    model.onDidChange(() => this.changed.fire(undefined));
  }

  getChildren(node?: BreakerView): BreakerView[] {
    if (node || !this.model.state.snapshot) return [];
    const stored = [...this.model.state.snapshot.breakers];
    if (!stored.some((b) => b.scope === "system")) stored.push({ scope: "system", name: "system", state: "closed", failures: 0 });
    return stored.sort((a, b) => ORDER.indexOf(a.scope) - ORDER.indexOf(b.scope) || a.name.localeCompare(b.name));
  }

  getTreeItem(b: BreakerView): vscode.TreeItem {
    const item = new vscode.TreeItem(b.scope === "system" ? "system" : `${b.scope} ${b.name}`);
    const tripped = b.state !== "closed";
    item.iconPath = new vscode.ThemeIcon(
      tripped ? "circle-filled" : "pass",
      new vscode.ThemeColor(b.state === "open" ? "testing.iconFailed" : b.state === "half_open" ? "editorWarning.foreground" : "testing.iconPassed"),
    );
    item.description = b.state.replace("_", "-") + (b.reason ? ` · ${b.reason}` : "");
    item.tooltip = `${b.scope} breaker ${b.name}: ${b.state}${b.reason ? `\n${b.reason}` : ""}`;
    item.contextValue = tripped ? "breakerTripped" : "breakerClosed";
    item.id = `breaker:${b.scope}:${b.name}`;
    return item;
  }
}
