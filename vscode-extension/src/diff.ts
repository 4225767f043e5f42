// A stage's diff in VS Code's own diff editor: two read-only documents of
// the file at the stage commit's parent and at the commit, read from git.

import { execFile } from "node:child_process";
import * as vscode from "vscode";
import type { StageDiff, TaskDetail } from "../../editors/panel/src/generated/protocol";

export const DIFF_SCHEME = "tdd-git";

/** `tdd-git:/<path>?<json: root, rev>`: the file `path` at `rev` in `root`. */
export function revisionUri(root: string, rev: string | null | undefined, path: string): vscode.Uri {
  return vscode.Uri.from({ scheme: DIFF_SCHEME, path: `/${path}`, query: JSON.stringify({ root, rev: rev ?? "" }) });
}

export class DiffContent implements vscode.TextDocumentContentProvider {
  provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const { root, rev } = JSON.parse(uri.query) as { root: string; rev: string };
    if (!rev) return Promise.resolve("");
    return new Promise((resolve) => {
      execFile("git", ["-C", root, "show", `${rev}:${uri.path.slice(1)}`], { maxBuffer: 64 << 20 }, (error, stdout) =>
        // Absent on that side: the stage added or deleted it.
        resolve(error ? "" : stdout),
      );
    });
  }
}

/** GREEN's commit when it changed files (the implementation), else the newest that did. */
export function pickStage(stages: StageDiff[], wanted?: string): StageDiff | undefined {
  if (wanted) return stages.find((s) => s.stage === wanted);
  const changed = stages.filter((s) => s.files.length > 0);
  return changed.find((s) => s.stage === "green") ?? changed.at(-1);
}

export async function openStageDiff(root: string, detail: TaskDetail, wanted?: string): Promise<boolean> {
  const stage = pickStage(detail.stages, wanted);
  const file = stage?.files.find((f) => !f.binary);
  if (!stage || !file) {
    void vscode.window.showInformationMessage(`TDD: ${detail.task.key} has no stage commit with a text change yet.`);
    return false;
  }
  const before = revisionUri(root, stage.parent, file.old_path ?? file.path);
  const after = revisionUri(root, stage.commit, file.path);
  const title = `${detail.task.key} ${stage.stage.toUpperCase()}: ${file.path}`;
  await vscode.commands.executeCommand("vscode.diff", before, after, title, { preview: true });
  return true;
}
