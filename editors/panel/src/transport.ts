// How the panel reaches a project. The screens only see `Transport`; the
// browser uses HTTP + SSE from `tdd-orchestrator serve`, the VS Code webview
// will relay the same calls to the language server through messages.

import type {
  EventsResult,
  LoggedEvent,
  Metrics,
  ProjectSummary,
  Snapshot,
  TaskDetail,
} from "./generated/protocol";

/** A diagnostic of the PRD preview, 1-based like `tdd-orchestrator validate`. */
export interface PreviewDiagnostic {
  code: string;
  severity: string;
  message: string;
  line: number;
  column: number;
}

export interface PlannedTask {
  key: string;
  title: string;
  kind: string;
  wave: number;
  depends_on: string[];
  requirement?: string | null;
  criteria?: string[];
  files?: string[];
}

/** `POST …/preview`: diagnostics and the dry-run plan, nothing stored. */
export interface Preview {
  diagnostics: PreviewDiagnostic[];
  plan:
    | { refused: unknown }
    | {
        tasks: number;
        waves: string[][];
        graph: { tasks: PlannedTask[] };
        changes: Record<string, unknown>;
      };
}

export type Command =
  | { kind: "run"; prd: string; resume?: boolean; requirement?: string }
  | { kind: "pause" }
  | { kind: "continue" }
  | { kind: "cancel" }
  | { kind: "retry"; task: string; prd?: string; fresh?: boolean }
  | { kind: "skip"; task: string; prd?: string; reason?: string }
  | { kind: "done"; task: string; prd?: string }
  | { kind: "breaker"; action: "reset" | "isolate"; scope: string; name: string; reason?: string };

/** One project's data. */
export interface ProjectTransport {
  snapshot(): Promise<Snapshot>;
  eventsAfter(after: number): Promise<EventsResult>;
  /** Pushes each new event from `after` on; returns how to stop. */
  subscribe(after: number, onEvents: (events: LoggedEvent[]) => void, onStatus: (live: boolean) => void): () => void;
  taskDetail(key: string, prd?: string): Promise<TaskDetail>;
  metrics(): Promise<Metrics>;
  /** Absent in the editor, which validates and plans the PRD as you type. */
  preview?(path: string, text: string): Promise<Preview>;
  decompose?(path: string, text: string): Promise<Record<string, unknown>>;
  command(command: Command): Promise<Record<string, unknown>>;
}

export interface Transport {
  projects(): Promise<ProjectSummary[]>;
  project(id: string): ProjectTransport;
}

/** An error the daemon explained (`{ "error": … }`), or the network's own. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function call<T>(method: string, url: string, body?: unknown): Promise<T> {
  const response = await fetch(url, {
    method,
    credentials: "same-origin",
    headers: body === undefined ? {} : { "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON: the status line says what happened.
  }
  if (!response.ok) {
    const message =
      (json as { error?: { message?: string } | string } | null)?.error ?? `${response.status} ${response.statusText}`;
    throw new ApiError(typeof message === "string" ? message : (message.message ?? String(response.status)), response.status);
  }
  return json as T;
}

/** The daemon: the cookie set by opening the URL `serve` printed is the auth. */
export class HttpTransport implements Transport {
  constructor(private readonly base = "") {}

  projects(): Promise<ProjectSummary[]> {
    return call("GET", `${this.base}/api/v1/projects`);
  }

  project(id: string): ProjectTransport {
    const root = `${this.base}/api/v1/projects/${encodeURIComponent(id)}`;
    return {
      snapshot: () => call("GET", `${root}/snapshot`),
      eventsAfter: (after) => call("GET", `${root}/events?after=${after}`),
      subscribe: (after, onEvents, onStatus) => subscribe(`${root}/events?after=${after}`, onEvents, onStatus),
      taskDetail: (key, prd) =>
        call("GET", `${root}/tasks/${key.split("/").map(encodeURIComponent).join("/")}${prd ? `?prd=${encodeURIComponent(prd)}` : ""}`),
      metrics: () => call("GET", `${root}/metrics`),
      preview: (path, text) => call("POST", `${root}/preview`, { path, text }),
      decompose: (path, text) => call("POST", `${root}/decompose`, { path, text }),
      command: (command) => {
        switch (command.kind) {
          case "run":
            return call("POST", `${root}/run`, { prd: command.prd, resume: command.resume ?? false, requirement: command.requirement });
          case "pause":
          case "continue":
          case "cancel":
            return call("POST", `${root}/${command.kind}`);
          case "retry":
          case "skip":
          case "done": {
            const { kind, ...body } = command;
            return call("POST", `${root}/${kind}`, body);
          }
          case "breaker": {
            const { action, scope, name, reason } = command;
            return call("POST", `${root}/breakers/${action}`, { scope, name, reason });
          }
        }
      },
    };
  }
}

/** Server-sent events batched per animation frame, so a burst of events
 * costs one render, not one each. EventSource reconnects by itself and
 * resumes with `Last-Event-ID`; the reducer drops anything seen twice. */
function subscribe(
  url: string,
  onEvents: (events: LoggedEvent[]) => void,
  onStatus: (live: boolean) => void,
): () => void {
  const source = new EventSource(url, { withCredentials: true });
  let batch: LoggedEvent[] = [];
  let frame: number | null = null;
  const flush = () => {
    frame = null;
    const events = batch;
    batch = [];
    if (events.length) onEvents(events);
  };
  source.onopen = () => onStatus(true);
  source.onerror = () => onStatus(false);
  source.onmessage = (message) => {
    try {
      batch.push(JSON.parse(message.data) as LoggedEvent);
    } catch {
      return; // a malformed entry is skipped; the sequence gap asks for it again
    }
    frame ??= requestAnimationFrame(flush);
  };
  return () => {
    source.close();
    if (frame !== null) cancelAnimationFrame(frame);
  };
}
