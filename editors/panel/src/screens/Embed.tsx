// A read-only status card for embedding (an iframe in a wiki or a README
// preview): progress, run state and open breakers, no controls.

import type { Panel } from "../usePanel";
import { countByState, currentRun } from "../state";
import { Badge, Progress, toneOf } from "../ui";

export function Embed({ panel }: { panel: Panel }) {
  const snapshot = panel.state.snapshot;
  if (!snapshot) return <p className="p-2 text-muted">{panel.error ?? "Loading…"}</p>;
  const counts = countByState(snapshot.tasks);
  const run = currentRun(snapshot);
  const open = snapshot.breakers.filter((b) => b.state !== "closed");
  const done = counts.done ?? 0;
  return (
    <div className="p-2" aria-label="Project status">
      <div className="mb-1 flex flex-wrap items-center gap-2 text-xs">
        <span className="font-semibold">{done}/{snapshot.tasks.length} merged</span>
        {(counts.failed ?? 0) > 0 && <Badge tone="bad">{counts.failed} failed</Badge>}
        {run && <Badge tone={toneOf(run.status)}>run {run.id}: {run.status}</Badge>}
        {open.length > 0 && <Badge tone="bad">{open.length} breaker{open.length > 1 ? "s" : ""} open</Badge>}
      </div>
      <Progress done={done} total={snapshot.tasks.length} label={`${done} of ${snapshot.tasks.length} tasks merged`} />
    </div>
  );
}
