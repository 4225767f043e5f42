// The one reducer: a snapshot once, then numbered events. Every screen reads
// the state it makes. It is pure; the transport does the fetching it asks
// for (`need`): the events after a gap, or a fresh snapshot after an event
// that changes the plan itself.

import type {
  BreakerView,
  LoggedEvent,
  RunView,
  Snapshot,
  TaskView,
  WorkerView,
} from "./generated/protocol";

/** Events kept for the activity feed. */
export const FEED_LIMIT = 300;

export type Need =
  | { kind: "none" }
  /** A hole in the sequence numbers: fetch the events after `after`. */
  | { kind: "catch-up"; after: number }
  /** The plan changed (a decomposition): fetch a snapshot. */
  | { kind: "refresh" };

export interface PanelState {
  snapshot: Snapshot | null;
  /** The newest event applied (the snapshot's `last_seq` at first). */
  lastSeq: number;
  /** The newest events, oldest first. */
  feed: LoggedEvent[];
  need: Need;
}

export type Action =
  | { type: "snapshot"; snapshot: Snapshot }
  | { type: "events"; events: LoggedEvent[] };

export const initialState: PanelState = {
  snapshot: null,
  lastSeq: 0,
  feed: [],
  need: { kind: "none" },
};

/** Kinds after which only a snapshot can say what the tasks are. */
const REFRESH_KINDS = new Set(["prd_decomposed", "task_replanned", "task_planned"]);

export function reduce(state: PanelState, action: Action): PanelState {
  switch (action.type) {
    case "snapshot": {
      const snapshot = action.snapshot;
      // Events pushed after the snapshot was taken are applied to it again,
      // so a refresh never steps back; a hole there asks for a catch-up.
      const feed = state.feed.filter((e) => e.seq <= snapshot.last_seq);
      const newer = state.feed.filter((e) => e.seq > snapshot.last_seq);
      const base: PanelState = { snapshot, lastSeq: snapshot.last_seq, feed, need: { kind: "none" } };
      return newer.length ? applyEvents(base, newer) : base;
    }
    case "events":
      return applyEvents(state, action.events);
  }
}

function applyEvents(state: PanelState, events: LoggedEvent[]): PanelState {
  if (!state.snapshot) return state;
  let snapshot = state.snapshot;
  let lastSeq = state.lastSeq;
  let need: Need = state.need;
  const fresh: LoggedEvent[] = [];
  for (const event of [...events].sort((a, b) => a.seq - b.seq)) {
    if (event.seq <= lastSeq) continue; // seen already: never shown twice
    if (event.seq > lastSeq + 1) {
      // A hole: stop here, and ask for what is missing.
      need = { kind: "catch-up", after: lastSeq };
      break;
    }
    snapshot = applyEvent(snapshot, event);
    lastSeq = event.seq;
    fresh.push(event);
    if (REFRESH_KINDS.has(event.kind)) need = { kind: "refresh" };
    else if (need.kind === "catch-up" && need.after < lastSeq) need = { kind: "none" };
  }
  if (fresh.length === 0 && need === state.need) return state;
  const feed = [...state.feed, ...fresh].slice(-FEED_LIMIT);
  return { snapshot: { ...snapshot, last_seq: lastSeq }, lastSeq, feed, need };
}

type Data = Record<string, unknown>;

const str = (v: unknown): string | null => (typeof v === "string" ? v : null);
const num = (v: unknown): number | null => (typeof v === "number" ? v : null);

/** One event's effect on the snapshot. Unknown kinds change nothing. */
export function applyEvent(snapshot: Snapshot, event: LoggedEvent): Snapshot {
  const data = (event.data ?? {}) as Data;
  const task = event.task ?? null;
  switch (event.kind) {
    case "task.started":
      return {
        ...withTask(snapshot, event, (t) => ({
          ...t,
          state: "running",
          worker: str(data.worker) ?? t.worker,
        })),
        workers: withWorker(snapshot.workers, str(data.worker), (w) => ({ ...w, task })),
      };
    case "stage.attempt": {
      const passed = data.passed === true;
      const reasons = Array.isArray(data.reasons) ? (data.reasons as Data[]) : [];
      const why = str(reasons[0]?.message) ?? str(data.evidence);
      const next = withTask(snapshot, event, (t) => ({
        ...t,
        stage: str(data.stage) ?? t.stage,
        attempts: t.attempts + 1,
        worker: str(data.worker) ?? t.worker,
        last_failure: passed ? null : why,
        updated_at: event.at,
      }));
      const run = num(data.run);
      return {
        ...next,
        workers: withWorker(next.workers, str(data.worker), (w) => ({
          ...w,
          stages_passed: w.stages_passed + (passed ? 1 : 0),
          stages_failed: w.stages_failed + (passed ? 0 : 1),
          last_heartbeat: event.at,
        })),
        runs: next.runs.map((r) =>
          r.id === run ? { ...r, attempts: r.attempts + 1, passed: r.passed + (passed ? 1 : 0) } : r,
        ),
      };
    }
    case "task.merged":
      return release(withTask(snapshot, event, (t) => ({ ...t, state: "done", last_failure: null })), task);
    case "task.failed":
      return release(
        withTask(snapshot, event, (t) => ({
          ...t,
          state: "failed",
          last_failure: str(data.reason) ?? t.last_failure,
        })),
        task,
      );
    case "task.interrupted":
    case "task.outage":
      return release(withTask(snapshot, event, (t) => ({ ...t, state: "pending" })), task);
    case "task.skipped":
    case "task_cancelled":
      return release(withTask(snapshot, event, (t) => ({ ...t, state: "cancelled" })), task);
    case "task.retry":
      return withTask(snapshot, event, (t) => ({ ...t, state: "pending", last_failure: null }));
    case "task_changed_since_done":
      return withTask(snapshot, event, (t) => ({ ...t, prd_changed_since_done: true }));
    case "run.started":
    case "run.resumed":
      return withRun(snapshot, event, num(data.run), (r) => ({
        ...r,
        status: "running",
        control: null,
        finished_at: null,
      }));
    case "run.finished":
      return {
        ...withRun(snapshot, event, num(data.run), (r) => ({
          ...r,
          status: str(data.status) ?? r.status,
          control: null,
          finished_at: event.at,
        })),
        workers: snapshot.workers.map((w) => ({ ...w, task: null })),
      };
    case "run.pause_requested":
      return withRun(snapshot, event, num(data.run), (r) => ({ ...r, control: "pause" }));
    case "run.cancel_requested":
      return withRun(snapshot, event, num(data.run), (r) => ({ ...r, control: "cancel" }));
    case "run.continue_requested":
      return withRun(snapshot, event, num(data.run), (r) => ({ ...r, control: null }));
    case "run.paused":
      return withRun(snapshot, event, num(data.run), (r) => ({ ...r, status: "paused" }));
    case "run.unpaused":
      return withRun(snapshot, event, num(data.run), (r) => ({ ...r, status: "running", control: null }));
    case "breaker_transition":
      return withBreaker(snapshot, event, data);
    default:
      return snapshot;
  }
}

function withTask(snapshot: Snapshot, event: LoggedEvent, change: (t: TaskView) => TaskView): Snapshot {
  if (!event.task) return snapshot;
  let hit = false;
  const tasks = snapshot.tasks.map((t) => {
    if (t.key !== event.task || (event.prd && t.prd !== event.prd)) return t;
    hit = true;
    return change(t);
  });
  return hit ? { ...snapshot, tasks } : snapshot;
}

/** The worker holding `task` lets go of it. */
function release(snapshot: Snapshot, task: string | null): Snapshot {
  if (!task) return snapshot;
  return {
    ...snapshot,
    workers: snapshot.workers.map((w) => (w.task === task ? { ...w, task: null } : w)),
  };
}

function withWorker(
  workers: WorkerView[],
  id: string | null,
  change: (w: WorkerView) => WorkerView,
): WorkerView[] {
  if (!id) return workers;
  const known = workers.some((w) => w.id === id);
  const all = known
    ? workers
    : [...workers, { id, kind: null, task: null, stages_passed: 0, stages_failed: 0, last_heartbeat: null, breaker: null }];
  return all.map((w) => (w.id === id ? change(w) : w));
}

function withRun(
  snapshot: Snapshot,
  event: LoggedEvent,
  id: number | null,
  change: (r: RunView) => RunView,
): Snapshot {
  if (id === null) return snapshot;
  const known = snapshot.runs.some((r) => r.id === id);
  const fresh: RunView = {
    id,
    prd: event.prd ?? "",
    status: "running",
    control: null,
    started_at: event.at,
    finished_at: null,
    heartbeat_at: null,
    attempts: 0,
    passed: 0,
    usage: null,
  };
  const runs = known ? snapshot.runs : [...snapshot.runs, fresh];
  return { ...snapshot, runs: runs.map((r) => (r.id === id ? change(r) : r)) };
}

function withBreaker(snapshot: Snapshot, event: LoggedEvent, data: Data): Snapshot {
  const scope = str(data.scope);
  const name = str(data.name);
  const to = str(data.to);
  if (!scope || !name || !to) return snapshot;
  const existing = snapshot.breakers.find((b) => b.scope === scope && b.name === name);
  const base: BreakerView = existing ?? { scope, name, state: "closed", failures: 0 };
  const breaker: BreakerView = {
    ...base,
    state: to,
    reason: str(data.reason) ?? base.reason,
    opened_at: to === "open" ? event.at : to === "closed" ? null : base.opened_at,
    next_trial: to === "open" ? str(data.until) : null,
    trials_left: to === "half_open" ? num(data.trials) : null,
    failures: to === "closed" ? 0 : base.failures,
  };
  const breakers = existing
    ? snapshot.breakers.map((b) => (b === existing ? breaker : b))
    : [...snapshot.breakers, breaker];
  const workers =
    scope === "worker" ? snapshot.workers.map((w) => (w.id === name ? { ...w, breaker: to } : w)) : snapshot.workers;
  return { ...snapshot, breakers, workers };
}

/** The board's columns, in order. */
export const COLUMNS = ["pending", "red", "green", "verify", "refactor", "merged", "failed"] as const;
export type Column = (typeof COLUMNS)[number];

const NEXT_STAGE: Record<string, Column> = {
  red: "green",
  green: "verify",
  verify: "refactor",
  refactor: "refactor", // then the merge, shown in the last working column
  merge: "refactor",
};

/** Where a task's card stands: its state, and for a running task the stage
 * it works on now (the one after its newest attempt when that passed). */
export function columnOf(task: TaskView): Column {
  switch (task.state) {
    case "done":
      return "merged";
    case "failed":
    case "blocked":
      return "failed";
    case "running":
    case "passed": {
      const stage = task.stage;
      if (!stage) return "red";
      if (task.last_failure) return (stage === "merge" ? "refactor" : stage) as Column;
      return NEXT_STAGE[stage] ?? "red";
    }
    default:
      return "pending";
  }
}

/** The run shown in the header: the newest. */
export function currentRun(snapshot: Snapshot): RunView | null {
  return snapshot.runs.length ? snapshot.runs[snapshot.runs.length - 1] : null;
}

/** Tasks by state, as `tdd-orchestrator status` counts them. */
export function countByState(tasks: TaskView[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const t of tasks) counts[t.state] = (counts[t.state] ?? 0) + 1;
  return counts;
}
