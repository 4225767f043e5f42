// The workspace's project as every view sees it: the panel UI's own reducer
// (editors/panel/src/state.ts) over the server's snapshot and its pushed,
// numbered `tdd/event`s; a gap asks `tdd/events`, a re-plan a snapshot.

import * as vscode from "vscode";
import type { LanguageClient } from "vscode-languageclient/node";
import type { EventsResult, LoggedEvent, Snapshot } from "../../editors/panel/src/generated/protocol";
import { initialState, reduce, type Action, type PanelState } from "../../editors/panel/src/state";

export class ProjectModel implements vscode.Disposable {
  state: PanelState = initialState;
  private readonly changed = new vscode.EventEmitter<PanelState>();
  /** Fired after every change, with the new state. */
  readonly onDidChange = this.changed.event;
  private readonly pushed = new vscode.EventEmitter<LoggedEvent[]>();
  /** The events as they arrive (the webview applies them itself). */
  readonly onEvents = this.pushed.event;
  private fetching = false;
  private early: LoggedEvent[] = [];
  private subscriptions: vscode.Disposable[] = [];

  constructor(
    readonly client: LanguageClient,
    private readonly output: vscode.OutputChannel,
  ) {}

  /** Once the client runs: follow the pushed events, read a snapshot. */
  start(): void {
    this.subscriptions.push(
      this.client.onNotification("tdd/event", (event: LoggedEvent) => {
        this.pushed.fire([event]);
        if (!this.state.snapshot) this.early.push(event);
        else this.dispatch({ type: "events", events: [event] });
      }),
    );
    void this.refresh();
  }

  async refresh(): Promise<void> {
    try {
      const snapshot = await this.client.sendRequest<Snapshot>("tdd/snapshot", {});
      this.dispatch({ type: "snapshot", snapshot });
      if (this.early.length) {
        const early = this.early;
        this.early = [];
        this.dispatch({ type: "events", events: early });
      }
    } catch (e) {
      this.output.appendLine(`tdd/snapshot failed: ${String(e)}`);
    }
  }

  private dispatch(action: Action): void {
    this.state = reduce(this.state, action);
    this.changed.fire(this.state);
    void this.satisfy();
  }

  /** What the reducer asks for: the events after a gap, or a snapshot. */
  private async satisfy(): Promise<void> {
    const need = this.state.need;
    if (need.kind === "none" || this.fetching) return;
    this.fetching = true;
    try {
      if (need.kind === "catch-up") {
        const page = await this.client.sendRequest<EventsResult>("tdd/events", { after: need.after });
        this.fetching = false;
        this.dispatch({ type: "events", events: page.events });
      } else {
        this.fetching = false;
        await this.refresh();
      }
    } catch (e) {
      this.fetching = false;
      this.output.appendLine(`catching up failed: ${String(e)}`);
    }
  }

  /** A server command (`workspace/executeCommand`), its error shown. */
  async execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T | undefined> {
    try {
      return await this.client.sendRequest<T>("workspace/executeCommand", { command, arguments: args ? [args] : [] });
    } catch (e) {
      void vscode.window.showErrorMessage(`TDD: ${(e as Error).message ?? String(e)}`);
      return undefined;
    }
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    this.changed.dispose();
    this.pushed.dispose();
  }
}
