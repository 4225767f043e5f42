// The status-bar item: the run's state, merged/total, and an open breaker.

import * as vscode from "vscode";
import { countByState, currentRun } from "../../editors/panel/src/state";
import type { ProjectModel } from "./model";

export class StatusItem implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem("tddOrchestrator.status", vscode.StatusBarAlignment.Left, 10);

  constructor(model: ProjectModel) {
    this.item.name = "TDD Orchestrator";
    this.item.command = "tddOrchestrator.showPanel";
    model.onDidChange((state) => {
      const snapshot = state.snapshot;
      if (!snapshot || snapshot.tasks.length === 0) {
        this.item.hide();
        return;
      }
      const counts = countByState(snapshot.tasks);
      const run = currentRun(snapshot);
      const open = snapshot.breakers.filter((b) => b.state !== "closed").length;
      const parts = [`$(beaker) TDD ${counts.done ?? 0}/${snapshot.tasks.length}`];
      if (run) parts.push(run.status);
      if (open) parts.push(`$(error) ${open} breaker${open > 1 ? "s" : ""} open`);
      this.item.text = parts.join(" · ");
      this.item.tooltip = `TDD Orchestrator: ${counts.done ?? 0} of ${snapshot.tasks.length} tasks merged${run ? `, run ${run.id} ${run.status}` : ""}${open ? `, ${open} breaker(s) open` : ""}`;
      this.item.backgroundColor = open ? new vscode.ThemeColor("statusBarItem.errorBackground") : undefined;
      this.item.show();
    });
  }

  dispose(): void {
    this.item.dispose();
  }
}
