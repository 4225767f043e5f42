// One task's evidence: each attempt's verdict and reasons, the failing tests
// (RED shows why it failed), each stage's diff, model use, the worker's
// transcript; and what a person can do about it.

import { useEffect, useState } from "react";
import { Diff, Hunk, parseDiff } from "react-diff-view";
import type { AttemptView, FileDiff, StageDiff, TaskDetail } from "../generated/protocol";
import { href, Link } from "../route";
import type { PanelState } from "../state";
import type { Command, ProjectTransport } from "../transport";
import { Badge, Button, duration, Empty, ErrorBox, Section, toneOf, usageText } from "../ui";

interface Failure {
  id?: string;
  /** `"assertion"`, or a tagged kind such as `{ kind: "missing_symbol", symbol }`. */
  kind?: string | Record<string, unknown>;
  message?: string;
  location?: { file: string; line: number } | null;
}

export function TaskDetailScreen({
  project,
  api,
  state,
  taskKey,
  prd,
}: {
  project: string;
  api: ProjectTransport;
  state: PanelState;
  taskKey: string;
  prd?: string;
}) {
  const [detail, setDetail] = useState<TaskDetail | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Read again whenever an event about this task arrives.
  const touched = state.feed.filter((e) => e.task === taskKey).at(-1)?.seq ?? 0;
  useEffect(() => {
    let stop = false;
    api
      .taskDetail(taskKey, prd)
      .then((d) => !stop && (setDetail(d), setError(null)))
      .catch((e: Error) => !stop && setError(e.message));
    return () => {
      stop = true;
    };
  }, [api, taskKey, prd, touched]);

  if (error) return <ErrorBox>{error}</ErrorBox>;
  if (!detail) return <p className="text-muted">Loading…</p>;
  const t = detail.task;
  return (
    <div className="mx-auto max-w-5xl">
      <Link to={href(project, "board")} className="text-xs text-muted hover:text-fg">
        ← Board
      </Link>
      <div className="my-2 flex flex-wrap items-center gap-2">
        <h2 className="font-mono text-sm text-muted">{t.key}</h2>
        <Badge tone={toneOf(t.state)}>{t.state}</Badge>
        {t.stage && <Badge>{t.stage}</Badge>}
      </div>
      <p className="mb-2 text-base font-semibold">{t.title}</p>
      {t.criteria.length > 0 && (
        <ul className="mb-3 list-disc pl-5 text-xs text-muted">
          {t.criteria.map((c) => (
            <li key={c}>{c}</li>
          ))}
        </ul>
      )}
      <p className="mb-3 text-xs text-muted">
        {t.prd} · wave {t.wave}
        {t.depends_on.length > 0 && ` · after ${t.depends_on.join(", ")}`} · {usageText(t.usage)}
      </p>
      <Actions api={api} taskKey={t.key} prd={t.prd} state={t.state} />
      <Section title={`Attempts (${detail.attempts.length})`}>
        {detail.attempts.length === 0 ? <Empty>No attempt yet.</Empty> : (
          <ol className="flex flex-col gap-2" aria-label="Stage timeline">
            {detail.attempts.map((a) => (
              <Attempt key={`${a.run}-${a.stage}-${a.attempt}-${a.started_at}`} attempt={a} />
            ))}
          </ol>
        )}
      </Section>
      <Section title="Stage diffs">
        {detail.stages.length === 0 ? <Empty>No stage committed yet.</Empty> : detail.stages.map((s) => <StageDiffView key={s.commit} stage={s} />)}
      </Section>
    </div>
  );
}

function Actions({ api, taskKey, prd, state }: { api: ProjectTransport; taskKey: string; prd: string; state: string }) {
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const send = (command: Command, what: string) =>
    api
      .command(command)
      .then(() => setMessage({ ok: true, text: what }))
      .catch((e: Error) => setMessage({ ok: false, text: e.message }));
  const finished = state === "done";
  return (
    <div className="mb-3">
      <div role="toolbar" aria-label="Task actions" className="flex flex-wrap gap-1.5">
        <Button disabled={finished} onClick={() => send({ kind: "retry", task: taskKey, prd }, "Put back to pending")}>
          Retry
        </Button>
        <Button disabled={finished} onClick={() => send({ kind: "retry", task: taskKey, prd, fresh: true }, "Put back to pending, worktree removed")}>
          Retry afresh
        </Button>
        <Button disabled={finished} onClick={() => send({ kind: "skip", task: taskKey, prd, reason: "skipped from the panel" }, "Skipped")}>
          Skip
        </Button>
        <Button disabled={state !== "running"} title="With the human worker: you finished the stage it waits on" onClick={() => send({ kind: "done", task: taskKey, prd }, "Marked done")}>
          Done
        </Button>
      </div>
      {message && (message.ok ? <p role="status" className="mt-1 text-xs text-muted">{message.text}</p> : <ErrorBox>{message.text}</ErrorBox>)}
    </div>
  );
}

function Attempt({ attempt: a }: { attempt: AttemptView }) {
  const report = (a.report ?? null) as { passed?: number; failed?: number; errored?: number; skipped?: number; failures?: Failure[]; problem_list?: Failure[] } | null;
  // Defensive: an older store's report may lack either list.
  const list = (v: unknown): Failure[] => (Array.isArray(v) ? (v as Failure[]) : []);
  const failures = [...list(report?.failures), ...list(report?.problem_list)];
  return (
    <li className="rounded border border-line p-2" data-stage={a.stage} data-passed={a.passed}>
      <div className="flex flex-wrap items-center gap-2">
        <Badge tone={a.passed ? "ok" : "bad"}>{a.passed ? "✓ passed" : "✗ rejected"}</Badge>
        <span className="font-semibold uppercase">{a.stage}</span>
        <span className="text-xs text-muted">
          attempt {a.attempt} · run {a.run} · {a.worker} · {duration(a.duration_ms)}
          {a.exit_code !== null && a.exit_code !== undefined && ` · exit ${a.exit_code}`}
        </span>
        {a.failure_kind && <Badge tone="warn">{a.failure_kind}</Badge>}
      </div>
      {report && (
        <p className="mt-1 text-xs text-muted">
          tests: {report.passed ?? 0} passed, {report.failed ?? 0} failed{report.errored ? `, ${report.errored} errored` : ""}
          {report.skipped ? `, ${report.skipped} skipped` : ""}
        </p>
      )}
      {a.evidence && (
        <pre aria-label="Verdict" className={`mt-1 whitespace-pre-wrap break-words font-sans text-xs ${a.passed ? "text-muted" : "text-bad"}`}>
          {a.evidence}
        </pre>
      )}
      {failures.length > 0 && (
        <ul className="mt-1 flex flex-col gap-1" aria-label="Failing tests">
          {failures.map((f, i) => (
            <li key={i} className="rounded bg-code p-1.5 text-xs" data-testid="failing-test">
              <span className="font-mono">{f.id ?? kindText(f.kind)}</span>
              {f.id && f.kind && <span className="text-muted"> · {kindText(f.kind)}</span>}
              {f.location && (
                <span className="text-muted">
                  {" "}
                  at {f.location.file}:{f.location.line}
                </span>
              )}
              {f.message && <pre className="mt-0.5 whitespace-pre-wrap break-words font-mono text-[11px] text-bad">{f.message}</pre>}
            </li>
          ))}
        </ul>
      )}
      {a.usage && a.usage.calls > 0 && <p className="mt-1 text-[11px] text-muted">{usageText(a.usage)}</p>}
      {a.transcript && (
        <details className="mt-1 text-xs">
          <summary className="cursor-pointer text-muted">
            Transcript ({a.transcript.format}, {(a.transcript.bytes / 1024).toFixed(1)} KiB{a.transcript.truncated ? ", middle cut" : ""})
          </summary>
          <pre className="mt-1 max-h-96 overflow-auto whitespace-pre-wrap break-words rounded bg-code p-2 font-mono text-[11px]">{a.transcript.text}</pre>
        </details>
      )}
    </li>
  );
}

function StageDiffView({ stage }: { stage: StageDiff }) {
  return (
    <details open={stage.stage === "green"} className="mb-2 rounded border border-line" data-testid={`diff-${stage.stage}`}>
      <summary className="cursor-pointer px-2 py-1">
        <span className="font-semibold uppercase">{stage.stage}</span>{" "}
        <span className="font-mono text-xs text-muted">{stage.commit.slice(0, 10)}</span>{" "}
        <span className="text-xs text-muted">
          {stage.files.length} file{stage.files.length === 1 ? "" : "s"}
          {stage.truncated ? " (more not listed)" : ""}
        </span>
      </summary>
      {stage.evidence && <p className="px-2 text-[11px] text-muted">{stage.evidence}</p>}
      {stage.files.map((f) => (
        <FileDiffView key={f.path} file={f} />
      ))}
    </details>
  );
}

function FileDiffView({ file }: { file: FileDiff }) {
  const header = (
    <div className="flex items-center gap-2 border-t border-line bg-bg px-2 py-1 font-mono text-xs">
      <span className="truncate">{file.old_path ? `${file.old_path} → ${file.path}` : file.path}</span>
      <Badge>{file.status}</Badge>
      {file.truncated && <Badge tone="warn">cut</Badge>}
    </div>
  );
  if (file.binary || !file.unified) {
    return (
      <div>
        {header}
        <p className="px-2 py-1 text-xs text-muted">{file.binary ? "Binary file" : "No textual change"}</p>
      </div>
    );
  }
  // similar's unified diff has ---/+++ headers; the parser wants git's line too.
  const from = file.old_path ?? file.path;
  const [parsed] = parseDiff(`diff --git a/${from} b/${file.path}\n${file.unified}`, { nearbySequences: "zip" });
  return (
    <div>
      {header}
      <div className="overflow-x-auto">
        {parsed ? (
          <Diff viewType="unified" diffType={parsed.type} hunks={parsed.hunks}>
            {(hunks) => hunks.map((hunk) => <Hunk key={hunk.content} hunk={hunk} />)}
          </Diff>
        ) : (
          <pre className="p-2 font-mono text-[11px]">{file.unified}</pre>
        )}
      </div>
    </div>
  );
}

/** A failure kind as words: `missing symbol: negate`. */
function kindText(kind: Failure["kind"]): string {
  if (!kind) return "";
  if (typeof kind === "string") return kind.replace(/_/g, " ");
  const name = typeof kind.kind === "string" ? kind.kind.replace(/_/g, " ") : "failure";
  const detail = Object.entries(kind)
    .filter(([k, v]) => k !== "kind" && (typeof v === "string" || typeof v === "number"))
    .map(([, v]) => String(v));
  return detail.length ? `${name}: ${detail.join(", ")}` : name;
}
