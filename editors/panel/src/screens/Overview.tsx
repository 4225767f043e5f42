// Every registered project: progress, run state, last activity, cost. A
// project whose directory is gone is listed as missing, not as an error.

import { useEffect, useState } from "react";
import type { ProjectSummary } from "../generated/protocol";
import { href, Link } from "../route";
import type { Transport } from "../transport";
import { ago, Badge, cost, Empty, ErrorBox, Progress, toneOf } from "../ui";

/** How often the list is read again: it spans projects, so no one stream. */
const REFRESH_MS = 5000;

export function Overview({ transport }: { transport: Transport }) {
  const [projects, setProjects] = useState<ProjectSummary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    let stop = false;
    const load = () =>
      transport
        .projects()
        .then((list) => {
          if (!stop) {
            setProjects(list);
            setError(null);
          }
        })
        .catch((e: Error) => !stop && setError(e.message));
    load();
    const timer = setInterval(load, REFRESH_MS);
    return () => {
      stop = true;
      clearInterval(timer);
    };
  }, [transport]);

  return (
    <main className="mx-auto max-w-5xl p-3">
      <h1 className="mb-3 text-lg font-semibold">Projects</h1>
      {error && <ErrorBox>{error}</ErrorBox>}
      {projects === null && !error && <p className="text-muted">Loading…</p>}
      {projects?.length === 0 && (
        <Empty>No project is registered yet: run <code>tdd-orchestrator init</code> in one, or open it in your editor.</Empty>
      )}
      <ul className="grid gap-3 sm:grid-cols-2 lg:grid-cols-3" aria-label="Projects">
        {projects?.map((p) => <ProjectCard key={p.id} project={p} />)}
      </ul>
    </main>
  );
}

function ProjectCard({ project: p }: { project: ProjectSummary }) {
  const done = p.by_state.done ?? 0;
  const failed = (p.by_state.failed ?? 0) + (p.by_state.blocked ?? 0);
  const body = (
    <>
      <div className="flex items-start justify-between gap-2">
        <h2 className="truncate font-semibold" title={p.path}>
          {p.name}
        </h2>
        {p.missing ? (
          <Badge tone="warn">missing</Badge>
        ) : (
          p.run_status && <Badge tone={toneOf(p.run_status)}>{p.run_status}</Badge>
        )}
      </div>
      <p className="truncate text-xs text-muted" title={p.path}>
        {p.path}
      </p>
      {p.missing ? (
        <p className="mt-2 text-xs text-warn">{p.problem ?? "The directory is gone."} Forget it with <code>tdd-orchestrator projects remove {p.id}</code>.</p>
      ) : (
        <>
          <div className="mt-2">
            <Progress done={done} total={p.tasks} label={`${p.name}: ${done} of ${p.tasks} tasks merged`} />
          </div>
          <dl className="mt-2 grid grid-cols-3 gap-1 text-xs">
            <div>
              <dt className="text-muted">merged</dt>
              <dd>
                {done}/{p.tasks}
                {failed > 0 && <span className="text-bad"> · {failed} failed</span>}
              </dd>
            </div>
            <div>
              <dt className="text-muted">activity</dt>
              <dd>{ago(p.last_activity)}</dd>
            </div>
            <div>
              <dt className="text-muted">cost</dt>
              <dd>{cost(p.cost_usd)}</dd>
            </div>
          </dl>
          {p.problem && <p className="mt-2 text-xs text-warn">{p.problem}</p>}
        </>
      )}
    </>
  );
  return (
    <li className="rounded border border-line bg-surface p-3" data-testid="project">
      {p.missing ? body : (
        <Link to={href(p.id, "board")} className="block focus:outline-none" aria-label={`Open ${p.name}`}>
          {body}
        </Link>
      )}
    </li>
  );
}
