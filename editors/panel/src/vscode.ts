// The panel inside a VS Code webview: every call is a numbered message to
// the extension, which relays it to the language server (the panel
// protocol, docs/lsp-extensions.md) and answers with the same number; the
// server's pushed `tdd/event`s arrive as `events` messages.

import type { EventsResult, LoggedEvent, Metrics, ProjectSummary, Snapshot, TaskDetail } from "./generated/protocol";
import type { Command, ProjectTransport, Transport } from "./transport";

/** Webview → extension. */
export type Request =
  | { id: number; method: "snapshot" }
  | { id: number; method: "eventsAfter"; after: number }
  | { id: number; method: "taskDetail"; key: string; prd?: string }
  | { id: number; method: "metrics" }
  | { id: number; method: "command"; command: Command }
  | { id: number; method: "subscribe" };

/** Extension → webview. */
export type Reply =
  | { kind: "reply"; id: number; result?: unknown; error?: string }
  | { kind: "events"; events: LoggedEvent[] }
  | { kind: "status"; live: boolean };

interface VsCodeApi {
  postMessage(message: unknown): void;
}

declare global {
  function acquireVsCodeApi(): VsCodeApi;
}

/** The one project is the editor's workspace. */
export const WORKSPACE = "workspace";

export function inVsCode(): boolean {
  return typeof (globalThis as { acquireVsCodeApi?: unknown }).acquireVsCodeApi === "function";
}

type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, "id"> : never) : never;

export class VsCodeTransport implements Transport {
  private readonly api = acquireVsCodeApi();
  private next = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private onEvents: ((events: LoggedEvent[]) => void) | null = null;
  private onStatus: ((live: boolean) => void) | null = null;

  constructor() {
    window.addEventListener("message", (message: MessageEvent<Reply>) => {
      const reply = message.data;
      if (reply.kind === "reply") {
        const pending = this.waiting.get(reply.id);
        this.waiting.delete(reply.id);
        if (reply.error !== undefined) pending?.reject(new Error(reply.error));
        else pending?.resolve(reply.result);
      } else if (reply.kind === "events") {
        this.onEvents?.(reply.events);
      } else if (reply.kind === "status") {
        this.onStatus?.(reply.live);
      }
    });
  }

  private ask<T>(body: RequestBody): Promise<T> {
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.api.postMessage({ id, ...body });
    });
  }

  projects(): Promise<ProjectSummary[]> {
    return Promise.resolve([]);
  }

  project(): ProjectTransport {
    return {
      snapshot: () => this.ask<Snapshot>({ method: "snapshot" }),
      eventsAfter: (after) => this.ask<EventsResult>({ method: "eventsAfter", after }),
      subscribe: (_after, onEvents, onStatus) => {
        this.onEvents = onEvents;
        this.onStatus = onStatus;
        void this.ask({ method: "subscribe" });
        onStatus(true);
        return () => {
          this.onEvents = null;
          this.onStatus = null;
        };
      },
      taskDetail: (key, prd) => this.ask<TaskDetail>({ method: "taskDetail", key, prd }),
      metrics: () => this.ask<Metrics>({ method: "metrics" }),
      command: (command) => this.ask<Record<string, unknown>>({ method: "command", command }),
    };
  }
}
