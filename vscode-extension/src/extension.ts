// The extension: the language server bundled and started, the TDD views
// (tasks, panel, breakers), commands, a status-bar item and stage diffs.
// Every view reads one `ProjectModel` (a snapshot, then numbered events).

import * as vscode from "vscode";
import { LanguageClient, TransportKind, type LanguageClientOptions, type ServerOptions } from "vscode-languageclient/node";
import { BreakersView } from "./breakers";
import { registerCommands } from "./commands";
import { DiffContent, DIFF_SCHEME } from "./diff";
import { ProjectModel } from "./model";
import { PanelView } from "./panel";
import { findServer } from "./server";
import { StatusItem } from "./status";
import { TasksView } from "./tasks";

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const started = performance.now();
  const output = vscode.window.createOutputChannel("TDD Orchestrator", { log: true });
  context.subscriptions.push(output);
  const found = findServer(context.extensionPath, vscode.workspace.getConfiguration("tddOrchestrator").get<string>("server.path") ?? "");
  let activation = 0;
  context.subscriptions.push(
    vscode.commands.registerCommand("tddOrchestrator.activationTime", () => {
      const text = `TDD Orchestrator activated in ${activation.toFixed(1)} ms (without the server's start)`;
      void vscode.window.showInformationMessage(text);
      return activation;
    }),
  );
  if ("problem" in found) {
    output.appendLine(found.problem);
    void vscode.window.showErrorMessage(found.problem, "Open Settings").then((choice) => {
      if (choice) void vscode.commands.executeCommand("workbench.action.openSettings", "tddOrchestrator.server.path");
    });
    activation = performance.now() - started;
    return;
  }
  output.appendLine(`server: ${found.path} (${found.source})`);

  const serverOptions: ServerOptions = {
    command: found.path,
    args: ["lsp"],
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [
      { scheme: "file", language: "markdown" },
      { scheme: "file", language: "yaml" },
      { scheme: "file", language: "json" },
      { scheme: "file", language: "plaintext" },
    ],
    initializationOptions: { ...settings(), panel: true },
    outputChannel: output,
    middleware: {
      workspace: {
        // The server reads `tddOrchestrator` itself: only what the user set,
        // without the extension's own keys (an unset setting is null here,
        // which the server would report as a bad value).
        configuration: async (params, token, next) => {
          const result = await next(params, token);
          return Array.isArray(result) ? result.map(serverSettings) : result;
        },
      },
    },
  };
  client = new LanguageClient("tddOrchestrator", "TDD Orchestrator", serverOptions, clientOptions);
  const model = new ProjectModel(client, output);
  const tasks = new TasksView(model);
  const breakers = new BreakersView(model);
  const panel = new PanelView(context, model, client);
  context.subscriptions.push(
    model,
    vscode.window.registerTreeDataProvider("tddOrchestrator.tasks", tasks),
    vscode.window.registerTreeDataProvider("tddOrchestrator.breakers", breakers),
    vscode.window.registerWebviewViewProvider("tddOrchestrator.panel", panel, { webviewOptions: { retainContextWhenHidden: true } }),
    vscode.workspace.registerTextDocumentContentProvider(DIFF_SCHEME, new DiffContent()),
    new StatusItem(model),
  );
  registerCommands(context, client, model);
  activation = performance.now() - started;
  output.appendLine(`activated in ${activation.toFixed(1)} ms`);
  // The server starts in the background; views fill in when it answers.
  client.start().then(
    () => model.start(),
    (e: unknown) => {
      output.appendLine(`the language server did not start: ${String(e)}`);
      void vscode.window.showErrorMessage(`TDD Orchestrator: the language server (${found.path}) did not start: ${String(e)}`);
    },
  );
}

/** The settings the server knows (docs/configuration.md). */
const SERVER_KEYS = ["prdGlobs", "maxFileKib"];

/** The server's settings from VS Code's, only those the user set. */
function settings(): Record<string, unknown> {
  const config = vscode.workspace.getConfiguration("tddOrchestrator");
  return serverSettings(Object.fromEntries(SERVER_KEYS.map((key) => [key, config.get(key)]))) as Record<string, unknown>;
}

function serverSettings(section: unknown): unknown {
  if (!section || typeof section !== "object") return section;
  const out: Record<string, unknown> = {};
  for (const key of SERVER_KEYS) {
    const value = (section as Record<string, unknown>)[key];
    if (value !== null && value !== undefined) out[key] = value;
  }
  return out;
}

export async function deactivate(): Promise<void> {
  await client?.stop();
}
