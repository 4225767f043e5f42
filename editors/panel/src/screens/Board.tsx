// The task board: a column per stage, live cards, filters, and the queue's
// controls (run all or one requirement, pause, continue, cancel).

import { useMemo, useState } from "react";
import type { TaskView } from "../generated/protocol";
import { href, Link } from "../route";
import { COLUMNS, columnOf, currentRun, type Column, type PanelState } from "../state";
import type { Command, ProjectTransport } from "../transport";
import { ago, Badge, Button, Empty, ErrorBox, toneOf } from "../ui";

const TITLES: Record<Column, string> = {
  pending: "Pending",
  red: "Red",
  green: "Green",
  verify: "Verify",
  refactor: "Refactor",
  merged: "Merged",
  failed: "Failed",
};

const ACCENTS: Record<Column, string> = {
  pending: "border-t-line",
  red: "border-t-bad",
  green: "border-t-ok",
  verify: "border-t-info",
  refactor: "border-t-warn",
  merged: "border-t-ok",
  failed: "border-t-bad",
};

/** Cards drawn per column before "show more": a 1,000-task board stays quick. */
const PAGE = 60;

export function Board({
  project,
  api,
  state,
  params,
}: {
  project: string;
  api: ProjectTransport;
  state: PanelState;
  params: URLSearchParams;
}) {
  const snapshot = state.snapshot!;
  const prds = snapshot.prds.map((p) => p.path);
  const [prd, setPrd] = useState(params.get("prd") ?? "");
  const [requirement, setRequirement] = useState(params.get("req") ?? "");
  const [status, setStatus] = useState(params.get("state") ?? "");
  const [query, setQuery] = useState("");

  const requirements = useMemo(
    () => [...new Set(snapshot.tasks.filter((t) => !prd || t.prd === prd).map((t) => t.requirement).filter(Boolean) as string[])].sort(),
    [snapshot.tasks, prd],
  );
  const tasks = snapshot.tasks.filter(
    (t) =>
      (!prd || t.prd === prd) &&
      (!requirement || t.requirement === requirement) &&
      (!status || columnOf(t) === status) &&
      (!query || `${t.key} ${t.title}`.toLowerCase().includes(query.toLowerCase())),
  );
  const byColumn = new Map<Column, TaskView[]>(COLUMNS.map((c) => [c, []]));
  for (const t of tasks) byColumn.get(columnOf(t))!.push(t);

  return (
    <div>
      <Controls api={api} state={state} prd={prd || prds[0] || ""} requirement={requirement} />
      <div role="search" aria-label="Filter tasks" className="mb-3 flex flex-wrap gap-2 text-xs">
        <Select label="PRD" value={prd} onChange={setPrd} options={prds} />
        <Select label="Requirement" value={requirement} onChange={setRequirement} options={requirements} />
        <Select label="State" value={status} onChange={setStatus} options={[...COLUMNS]} />
        <input
          aria-label="Search tasks"
          placeholder="Search…"
          value={query}
          onChange={(e) => setQuery(e.target.value)}
          className="min-w-0 flex-1 rounded border border-line bg-surface px-2 py-1"
        />
      </div>
      {snapshot.tasks.length === 0 ? (
        <Empty>
          No tasks yet. Open <Link className="text-accent underline" to={href(project, "prd")}>PRD</Link> to decompose one.
        </Empty>
      ) : (
        <div className="grid grid-cols-1 gap-2 sm:grid-cols-2 md:grid-cols-4 xl:grid-cols-7">
          {COLUMNS.map((column) => (
            <ColumnView key={column} column={column} tasks={byColumn.get(column)!} project={project} />
          ))}
        </div>
      )}
    </div>
  );
}

function Select({ label, value, onChange, options }: { label: string; value: string; onChange: (v: string) => void; options: string[] }) {
  return (
    <label className="flex items-center gap-1">
      <span className="text-muted">{label}</span>
      <select value={value} onChange={(e) => onChange(e.target.value)} className="max-w-48 rounded border border-line bg-surface px-1 py-1">
        <option value="">all</option>
        {options.map((o) => (
          <option key={o} value={o}>
            {o}
          </option>
        ))}
      </select>
    </label>
  );
}

function ColumnView({ column, tasks, project }: { column: Column; tasks: TaskView[]; project: string }) {
  const [shown, setShown] = useState(PAGE);
  return (
    <section aria-label={`${TITLES[column]}: ${tasks.length} tasks`} data-column={column} className={`rounded border border-line border-t-4 bg-bg ${ACCENTS[column]}`}>
      <h2 className="flex items-center justify-between px-2 py-1.5 text-xs font-semibold uppercase tracking-wide text-muted">
        {TITLES[column]}
        <span data-testid={`count-${column}`}>{tasks.length}</span>
      </h2>
      <ul className="flex flex-col gap-1.5 px-1.5 pb-1.5">
        {tasks.slice(0, shown).map((t) => (
          <Card key={`${t.prd}\u0000${t.key}`} task={t} project={project} />
        ))}
      </ul>
      {tasks.length > shown && (
        <div className="px-1.5 pb-1.5">
          <Button className="w-full" onClick={() => setShown(shown + PAGE)}>
            Show {Math.min(PAGE, tasks.length - shown)} more of {tasks.length - shown}
          </Button>
        </div>
      )}
    </section>
  );
}

function Card({ task: t, project }: { task: TaskView; project: string }) {
  const result = t.last_failure
    ? { tone: "bad", text: t.last_failure }
    : t.stage
      ? { tone: "ok", text: `${t.stage.toUpperCase()} passed` }
      : null;
  return (
    <li data-task={t.key} data-state={t.state} data-attempts={t.attempts} className="rounded border border-line bg-surface">
      <Link to={href(project, "task", { key: t.key, prd: t.prd })} className="block p-2 hover:bg-bg" aria-label={`${t.key}: ${t.title}, ${t.state}`}>
        <div className="flex items-center justify-between gap-1">
          <span className="truncate font-mono text-[11px] text-muted">{t.key}</span>
          <Badge tone={toneOf(t.state)}>{t.state}</Badge>
        </div>
        <p className="mt-0.5 line-clamp-2 text-xs">{t.title}</p>
        <div className="mt-1 flex flex-wrap gap-x-2 text-[11px] text-muted">
          {t.worker && <span title="worker">⚙ {t.worker}</span>}
          {t.attempts > 0 && <span title="stage attempts so far">{t.attempts} attempt{t.attempts === 1 ? "" : "s"}</span>}
          <span title={t.updated_at}>{ago(t.updated_at)}</span>
          {t.prd_changed_since_done && <span className="text-warn">PRD changed since done</span>}
        </div>
        {result && (
          <p className={`mt-1 line-clamp-3 break-words text-[11px] ${result.tone === "bad" ? "text-bad" : "text-ok"}`} data-testid="last-result">
            {result.text}
          </p>
        )}
      </Link>
    </li>
  );
}

function Controls({ api, state, prd, requirement }: { api: ProjectTransport; state: PanelState; prd: string; requirement: string }) {
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const run = state.snapshot ? currentRun(state.snapshot) : null;
  const running = run?.status === "running" || run?.status === "paused";
  const send = (command: Command, what: string) => {
    setBusy(true);
    api
      .command(command)
      .then(() => setMessage({ ok: true, text: what }))
      .catch((e: Error) => setMessage({ ok: false, text: e.message }))
      .finally(() => setBusy(false));
  };
  return (
    <div className="mb-3">
      <div role="toolbar" aria-label="Run controls" className="flex flex-wrap items-center gap-1.5">
        <Button kind="primary" disabled={busy || running || !prd} onClick={() => send({ kind: "run", prd }, `Run of ${prd} started`)}>
          ▶ Run all
        </Button>
        {requirement && (
          <Button disabled={busy || running || !prd} onClick={() => send({ kind: "run", prd, requirement }, `Run of ${requirement} started`)}>
            ▶ Run {requirement}
          </Button>
        )}
        <Button disabled={busy || running || !prd} onClick={() => send({ kind: "run", prd, resume: true }, "Resumed the last run")}>
          Resume
        </Button>
        <Button disabled={busy || run?.status !== "running"} onClick={() => send({ kind: "pause" }, "Pause asked")}>
          Pause
        </Button>
        <Button disabled={busy || run?.status !== "paused"} onClick={() => send({ kind: "continue" }, "Continue asked")}>
          Continue
        </Button>
        <Button kind="danger" disabled={busy || !running} onClick={() => send({ kind: "cancel" }, "Cancel asked")}>
          Cancel
        </Button>
      </div>
      {message &&
        (message.ok ? (
          <p role="status" className="mt-1 text-xs text-muted">
            {message.text}
          </p>
        ) : (
          <ErrorBox>{message.text}</ErrorBox>
        ))}
    </div>
  );
}
