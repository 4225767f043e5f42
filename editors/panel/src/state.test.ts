import { describe, expect, it } from "vitest";
import type { LoggedEvent, Snapshot, TaskView } from "./generated/protocol";
import { columnOf, countByState, FEED_LIMIT, initialState, reduce, type PanelState } from "./state";

const AT = "2026-12-06T10:00:00Z";

function task(key: string, extra: Partial<TaskView> = {}): TaskView {
  return {
    key,
    title: `Task ${key}`,
    kind: "criterion",
    prd: "app.prd.md",
    criteria: [],
    depends_on: [],
    files: [],
    state: "pending",
    attempts: 0,
    wave: 0,
    updated_at: AT,
    prd_changed_since_done: false,
    ...extra,
  };
}

function snapshot(lastSeq: number, tasks: TaskView[] = [task("REQ-1/AC-1.1"), task("REQ-1/AC-1.2")]): Snapshot {
  return {
    last_seq: lastSeq,
    prds: [{ path: "app.prd.md", format: "markdown" }],
    tasks,
    runs: [],
    workers: [],
    breakers: [],
  };
}

function event(seq: number, kind: string, data: Record<string, unknown> = {}, taskKey: string | null = "REQ-1/AC-1.1"): LoggedEvent {
  return { seq, at: AT, kind, prd: "app.prd.md", task: taskKey, data } as LoggedEvent;
}

function start(lastSeq = 10): PanelState {
  return reduce(initialState, { type: "snapshot", snapshot: snapshot(lastSeq) });
}

const stage = (seq: number, name: string, passed: boolean, extra: Record<string, unknown> = {}) =>
  event(seq, "stage.attempt", { stage: name, passed, worker: "w1", run: 1, attempt: 1, evidence: "", ...extra });

describe("reduce", () => {
  it("ignores events before a snapshot arrives", () => {
    expect(reduce(initialState, { type: "events", events: [event(1, "task.started")] })).toBe(initialState);
  });

  it("applies events in sequence order and moves a card through the stages", () => {
    let state = start(10);
    state = reduce(state, {
      type: "events",
      events: [stage(12, "red", true), event(11, "task.started", { worker: "w1", run: 1 })],
    });
    expect(state.lastSeq).toBe(12);
    const t = state.snapshot!.tasks[0];
    expect(t.state).toBe("running");
    expect(t.worker).toBe("w1");
    expect(columnOf(t)).toBe("green");
    expect(state.snapshot!.workers).toEqual([
      expect.objectContaining({ id: "w1", task: "REQ-1/AC-1.1", stages_passed: 1, stages_failed: 0 }),
    ]);
    state = reduce(state, { type: "events", events: [event(13, "task.merged", {})] });
    expect(columnOf(state.snapshot!.tasks[0])).toBe("merged");
    expect(state.snapshot!.workers[0].task).toBeNull();
    expect(countByState(state.snapshot!.tasks)).toEqual({ done: 1, pending: 1 });
  });

  it("never applies an event twice (a reconnect replays what was seen)", () => {
    let state = start(10);
    const events = [event(11, "task.started", { worker: "w1", run: 1 }), stage(12, "red", true)];
    state = reduce(state, { type: "events", events });
    const again = reduce(state, { type: "events", events });
    expect(again).toBe(state);
    expect(again.snapshot!.tasks[0].attempts).toBe(1);
    expect(again.feed.map((e) => e.seq)).toEqual([11, 12]);
  });

  it("drops events the snapshot already includes", () => {
    const state = reduce(start(10), { type: "events", events: [stage(9, "red", true), stage(10, "red", true)] });
    expect(state.snapshot!.tasks[0].attempts).toBe(0);
    expect(state.feed).toEqual([]);
  });

  it("asks for a catch-up at a gap instead of leaving a hole, then goes on", () => {
    let state = start(10);
    state = reduce(state, { type: "events", events: [event(11, "task.started", { worker: "w1", run: 1 }), stage(14, "red", true)] });
    expect(state.lastSeq).toBe(11);
    expect(state.need).toEqual({ kind: "catch-up", after: 11 });
    expect(state.snapshot!.tasks[0].attempts).toBe(0);
    // The catch-up page brings 12..14; 14 again from the stream is ignored.
    state = reduce(state, {
      type: "events",
      events: [event(12, "task.notice", { message: "hi", run: 1 }), event(13, "run.warning", { message: "w", run: 1 }), stage(14, "red", true)],
    });
    expect(state.need).toEqual({ kind: "none" });
    expect(state.lastSeq).toBe(14);
    expect(state.snapshot!.tasks[0].attempts).toBe(1);
  });

  it("asks for a fresh snapshot when the plan changes, and keeps newer events on it", () => {
    let state = start(10);
    state = reduce(state, {
      type: "events",
      events: [event(11, "prd_decomposed", { path: "app.prd.md", tasks: 3 }, null), event(12, "task.started", { worker: "w1", run: 1 })],
    });
    expect(state.need).toEqual({ kind: "refresh" });
    // The fresh snapshot was taken at 11: event 12 is applied again on it.
    const fresh = snapshot(11, [task("REQ-1/AC-1.1"), task("REQ-1/AC-1.2"), task("REQ-2/AC-2.1")]);
    state = reduce(state, { type: "snapshot", snapshot: fresh });
    expect(state.need).toEqual({ kind: "none" });
    expect(state.lastSeq).toBe(12);
    expect(state.snapshot!.tasks).toHaveLength(3);
    expect(state.snapshot!.tasks[0].state).toBe("running");
  });

  it("shows a failed stage's first reason on its card and in the failed column at the end", () => {
    let state = start(0);
    state = reduce(state, {
      type: "events",
      events: [
        event(1, "task.started", { worker: "w1", run: 1 }),
        stage(2, "green", false, { reasons: [{ code: "tests_failed", message: "test_total failed: 3 != 4" }] }),
      ],
    });
    let t = state.snapshot!.tasks[0];
    expect(t.last_failure).toBe("test_total failed: 3 != 4");
    expect(columnOf(t)).toBe("green");
    state = reduce(state, { type: "events", events: [event(3, "task.failed", { reason: "GREEN failed 3 times", stage: "green", failure_kind: "violation" })] });
    t = state.snapshot!.tasks[0];
    expect(columnOf(t)).toBe("failed");
    expect(t.last_failure).toBe("GREEN failed 3 times");
  });

  it("follows breakers through open, half-open and closed", () => {
    let state = start(0);
    const transition = (seq: number, to: string, extra: Record<string, unknown> = {}) =>
      event(seq, "breaker_transition", { scope: "worker", name: "w1", from: "closed", to, reason: "3 failures", transition_id: seq, ...extra }, null);
    state = reduce(state, { type: "events", events: [event(1, "task.started", { worker: "w1", run: 1 }), transition(2, "open", { until: "2026-12-06T10:05:00Z" })] });
    expect(state.snapshot!.breakers).toEqual([
      expect.objectContaining({ scope: "worker", name: "w1", state: "open", opened_at: AT, next_trial: "2026-12-06T10:05:00Z" }),
    ]);
    expect(state.snapshot!.workers[0].breaker).toBe("open");
    state = reduce(state, { type: "events", events: [transition(3, "half_open", { trials: 1 })] });
    expect(state.snapshot!.breakers[0]).toEqual(expect.objectContaining({ state: "half_open", trials_left: 1 }));
    state = reduce(state, { type: "events", events: [transition(4, "closed")] });
    expect(state.snapshot!.breakers[0]).toEqual(expect.objectContaining({ state: "closed", opened_at: null, failures: 0 }));
  });

  it("tracks a run's lifecycle and its control requests", () => {
    let state = start(0);
    state = reduce(state, { type: "events", events: [event(1, "run.started", { run: 7, owner: "me" }, null), event(2, "run.pause_requested", { run: 7 }, null)] });
    expect(state.snapshot!.runs).toEqual([expect.objectContaining({ id: 7, status: "running", control: "pause" })]);
    state = reduce(state, { type: "events", events: [event(3, "run.paused", { run: 7 }, null)] });
    expect(state.snapshot!.runs[0].status).toBe("paused");
    state = reduce(state, {
      type: "events",
      events: [event(4, "run.unpaused", { run: 7 }, null), event(5, "run.finished", { run: 7, status: "completed", merged: 2, failed: 0, blocked: 0 }, null)],
    });
    expect(state.snapshot!.runs[0]).toEqual(expect.objectContaining({ status: "completed", control: null, finished_at: AT }));
  });

  it("keeps the feed bounded", () => {
    let state = start(0);
    const many = Array.from({ length: FEED_LIMIT + 50 }, (_, i) => event(i + 1, "task.notice", { message: `n${i}`, run: 1 }));
    state = reduce(state, { type: "events", events: many });
    expect(state.feed).toHaveLength(FEED_LIMIT);
    expect(state.feed[0].seq).toBe(51);
    expect(state.lastSeq).toBe(FEED_LIMIT + 50);
  });
});

describe("columnOf", () => {
  it("puts each state and stage in its column", () => {
    expect(columnOf(task("a"))).toBe("pending");
    expect(columnOf(task("a", { state: "running" }))).toBe("red");
    expect(columnOf(task("a", { state: "running", stage: "green" }))).toBe("verify");
    expect(columnOf(task("a", { state: "running", stage: "refactor" }))).toBe("refactor");
    expect(columnOf(task("a", { state: "running", stage: "verify", last_failure: "x" }))).toBe("verify");
    expect(columnOf(task("a", { state: "done" }))).toBe("merged");
    expect(columnOf(task("a", { state: "blocked" }))).toBe("failed");
    expect(columnOf(task("a", { state: "cancelled" }))).toBe("pending");
  });
});
