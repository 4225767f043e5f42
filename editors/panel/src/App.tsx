// The shell: the overview of every project, or one project's screens under
// a header with its run controls. The screens read one `PanelState`.

import { useEffect, useMemo, useState } from "react";
import { href, Link, useRoute, type Screen } from "./route";
import { Board } from "./screens/Board";
import { Embed } from "./screens/Embed";
import { MetricsScreen } from "./screens/Metrics";
import { Overview } from "./screens/Overview";
import { PrdScreen } from "./screens/Prd";
import { TaskDetailScreen } from "./screens/TaskDetail";
import { Workers } from "./screens/Workers";
import { countByState, currentRun } from "./state";
import type { Transport } from "./transport";
import { Badge, ErrorBox, toneOf } from "./ui";
import { usePanel } from "./usePanel";

const TABS: { screen: Screen; label: string }[] = [
  { screen: "board", label: "Board" },
  { screen: "workers", label: "Workers & breakers" },
  { screen: "metrics", label: "Metrics" },
  { screen: "prd", label: "PRD" },
];

export function App({ transport, fixedProject }: { transport: Transport; fixedProject?: string }) {
  let route = useRoute();
  // In the editor there is one project: its board is the start.
  if (route.screen === "overview" && fixedProject) {
    route = { screen: "board", project: fixedProject, params: new URLSearchParams() };
  }
  if (route.screen === "overview") return <Overview transport={transport} />;
  return <ProjectScreens key={route.project} transport={transport} project={route.project} screen={route.screen} params={route.params} showOverview={!fixedProject} />;
}

function ProjectScreens({
  transport,
  project,
  screen,
  params,
  showOverview,
}: {
  transport: Transport;
  project: string;
  screen: Screen;
  params: URLSearchParams;
  showOverview: boolean;
}) {
  const api = useMemo(() => transport.project(project), [transport, project]);
  const panel = usePanel(api);
  const name = useProjectName(transport, project, showOverview);
  const snapshot = panel.state.snapshot;
  if (screen === "embed") return <Embed panel={panel} />;
  const run = snapshot ? currentRun(snapshot) : null;
  const counts = snapshot ? countByState(snapshot.tasks) : {};
  const total = snapshot?.tasks.length ?? 0;
  const openBreakers = snapshot?.breakers.filter((b) => b.state !== "closed").length ?? 0;
  const active = screen === "task" ? "board" : screen;
  return (
    <div className="min-h-screen">
      <header className="sticky top-0 z-10 border-b border-line bg-surface px-3 py-2">
        <div className="flex flex-wrap items-center gap-x-3 gap-y-1">
          {showOverview && (
            <Link to="#/" className="text-muted hover:text-fg" aria-label="All projects">
              ← Projects
            </Link>
          )}
          <h1 className="font-semibold" title={`project ${project}`}>
            {name}
          </h1>
          <span
            role="status"
            data-last-seq={panel.state.lastSeq}
            aria-label={panel.live ? "live" : "reconnecting"}
            title={panel.live ? "Live: events arrive as they happen" : "Not connected: reconnecting"}
            className={`inline-block h-2 w-2 rounded-full ${panel.live ? "bg-ok" : "bg-warn"}`}
          />
          {run && (
            <Badge tone={toneOf(run.status)} title={`Run ${run.id}`}>
              run {run.id}: {run.status}
              {run.control ? ` (${run.control} asked)` : ""}
            </Badge>
          )}
          <span className="text-muted" data-testid="merged-count">
            {counts.done ?? 0}/{total} merged
          </span>
          {openBreakers > 0 && <Badge tone="bad">{openBreakers} breaker{openBreakers > 1 ? "s" : ""} open</Badge>}
        </div>
        <nav aria-label="Screens" className="mt-2 flex flex-wrap gap-1">
          {TABS.filter((tab) => tab.screen !== "prd" || api.preview).map((tab) => (
            <Link
              key={tab.screen}
              to={href(project, tab.screen)}
              aria-current={active === tab.screen ? "page" : undefined}
              className={`rounded px-2 py-1 text-xs ${active === tab.screen ? "bg-accent text-accent-fg" : "text-muted hover:bg-bg hover:text-fg"}`}
            >
              {tab.label}
            </Link>
          ))}
        </nav>
      </header>
      <main className="p-3">
        {panel.error && <ErrorBox>{panel.error}</ErrorBox>}
        {!snapshot && !panel.error && <p className="text-muted">Loading…</p>}
        {snapshot && screen === "board" && <Board project={project} api={api} state={panel.state} params={params} />}
        {snapshot && screen === "task" && (
          <TaskDetailScreen project={project} api={api} state={panel.state} taskKey={params.get("key") ?? ""} prd={params.get("prd") ?? undefined} />
        )}
        {snapshot && screen === "workers" && <Workers api={api} snapshot={snapshot} />}
        {snapshot && screen === "metrics" && <MetricsScreen api={api} lastSeq={panel.state.lastSeq} since={snapshot.runs[0]?.started_at ?? null} />}
        {snapshot && screen === "prd" && api.preview && <PrdScreen project={project} api={api} snapshot={snapshot} />}
      </main>
    </div>
  );
}

/** The registered project's name (its directory's); the id until known. */
function useProjectName(transport: Transport, project: string, registry: boolean): string {
  const [name, setName] = useState(registry ? project : "This workspace");
  useEffect(() => {
    if (!registry) return;
    transport
      .projects()
      .then((all) => setName(all.find((p) => p.id === project)?.name ?? project))
      .catch(() => {});
  }, [transport, project, registry]);
  return name;
}
