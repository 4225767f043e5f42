// The panel webview: the panel UI's bundle (editors/panel/dist, copied into
// the extension at build time) with its calls relayed to the language
// server as numbered messages (editors/panel/src/vscode.ts is the other end).

import { readFileSync } from "node:fs";
import { join } from "node:path";
import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import type { Command } from "../../editors/panel/src/transport";
import type { Request } from "../../editors/panel/src/vscode";
import type { ProjectModel } from "./model";
import { serverCommand } from "./commands";

export class PanelView implements vscode.WebviewViewProvider {
  view: vscode.WebviewView | undefined;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly model: ProjectModel,
    private readonly client: LanguageClient,
  ) {}

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    const root = vscode.Uri.joinPath(this.context.extensionUri, "dist", "panel");
    view.webview.options = { enableScripts: true, localResourceRoots: [] };
    view.webview.html = this.html(root);
    let subscribed = false;
    const events = this.model.onEvents((batch) => {
      if (subscribed) void view.webview.postMessage({ kind: "events", events: batch });
    });
    view.onDidDispose(() => events.dispose());
    view.webview.onDidReceiveMessage(async (request: Request) => {
      if (request.method === "subscribe") subscribed = true;
      try {
        const result = await this.answer(request);
        void view.webview.postMessage({ kind: "reply", id: request.id, result });
      } catch (e) {
        void view.webview.postMessage({ kind: "reply", id: request.id, error: (e as Error).message ?? String(e) });
      }
    });
  }

  private answer(request: Request): Promise<unknown> {
    switch (request.method) {
      case "snapshot":
        return this.client.sendRequest("tdd/snapshot", {});
      case "eventsAfter":
        return this.client.sendRequest("tdd/events", { after: request.after });
      case "taskDetail":
        return this.client.sendRequest("tdd/taskDetail", { task: request.key, prd: request.prd });
      case "metrics":
        return this.client.sendRequest("tdd/metrics", {});
      case "subscribe":
        return Promise.resolve(true);
      case "command":
        return this.command(request.command);
    }
  }

  /** The board's and task detail's actions, as server commands. */
  private command(command: Command): Promise<unknown> {
    const [name, args] = serverCommand(command, this.model);
    return this.client.sendRequest("workspace/executeCommand", { command: name, arguments: [args] });
  }

  /** index.html of the bundle with its script and styles inlined, under a
   * CSP that allows only them: nothing is fetched, so the panel does not
   * depend on the webview's resource service (absent offline in VS Code
   * for the Web and code-server). */
  private html(root: vscode.Uri): string {
    const read = (path: string) => readFileSync(join(root.fsPath, path), "utf8");
    const nonce = Array.from({ length: 32 }, () => Math.floor(Math.random() * 36).toString(36)).join("");
    const csp = ["default-src 'none'", "img-src data:", "style-src 'unsafe-inline'", `script-src 'nonce-${nonce}'`].join("; ");
    return read("index.html")
      .replace(/<script([^>]*) src="\.\/(assets\/[^"]+)"><\/script>/g, (_, attrs: string, path: string) => {
        const code = read(path).replace(/<\/script/gi, "<\\/script");
        return `<script${attrs.replace(/ crossorigin/g, "")} nonce="${nonce}">${code}</script>`;
      })
      .replace(/<link rel="stylesheet"[^>]* href="\.\/(assets\/[^"]+)">/g, (_, path: string) => `<style>${read(path)}</style>`)
      .replace("<head>", `<head>\n    <meta http-equiv="Content-Security-Policy" content="${csp}">`);
  }
}
