// A PRD pasted, dropped or read from disk: the validator's diagnostics and
// the dry-run plan drawn by waves, then decompose and run.

import { useState, type DragEvent } from "react";
import type { Snapshot } from "../generated/protocol";
import { href, navigate } from "../route";
import type { PlannedTask, Preview, ProjectTransport } from "../transport";
import { Badge, Button, Empty, ErrorBox, Section } from "../ui";

export function PrdScreen({ project, api, snapshot }: { project: string; api: ProjectTransport; snapshot: Snapshot }) {
  const [path, setPath] = useState(snapshot.prds[0]?.path ?? "docs/new.prd.md");
  const [text, setText] = useState("");
  const [preview, setPreview] = useState<Preview | null>(null);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const [busy, setBusy] = useState(false);

  const guard = async (work: () => Promise<void>) => {
    setBusy(true);
    setMessage(null);
    try {
      await work();
    } catch (e) {
      setMessage({ ok: false, text: (e as Error).message });
    } finally {
      setBusy(false);
    }
  };
  // An empty box means the file on disk.
  const body = () => (text.trim() ? text : undefined) as string;
  const check = () => guard(async () => setPreview(await api.preview!(path, body())));
  const decompose = () =>
    guard(async () => {
      const result = await api.decompose!(path, body());
      setMessage({ ok: true, text: `Decomposed: ${result.tasks} tasks (${result.added} added, ${result.replanned} re-planned, ${result.cancelled} cancelled)` });
    });
  const run = () =>
    guard(async () => {
      await api.command({ kind: "run", prd: path });
      navigate(href(project, "board"));
    });
  const drop = (e: DragEvent) => {
    e.preventDefault();
    const file = e.dataTransfer.files[0];
    if (!file) return;
    if (!path || path === snapshot.prds[0]?.path) setPath(file.name);
    void file.text().then(setText);
  };

  const errors = preview?.diagnostics.filter((d) => d.severity === "error").length ?? 0;
  const plan = preview && "graph" in preview.plan ? preview.plan : null;
  const refused = preview && "refused" in preview.plan ? String(preview.plan.refused) : null;
  return (
    <div className="mx-auto max-w-5xl">
      <Section title="PRD">
        <label className="mb-2 flex flex-wrap items-center gap-2 text-xs">
          <span className="text-muted">Path in the project</span>
          <input value={path} onChange={(e) => setPath(e.target.value)} list="prd-paths" className="min-w-0 flex-1 rounded border border-line bg-surface px-2 py-1 font-mono" aria-label="PRD path" />
          <datalist id="prd-paths">
            {snapshot.prds.map((p) => (
              <option key={p.path} value={p.path} />
            ))}
          </datalist>
        </label>
        <textarea
          aria-label="PRD text"
          value={text}
          onChange={(e) => setText(e.target.value)}
          onDragOver={(e) => e.preventDefault()}
          onDrop={drop}
          placeholder="Paste or drop a PRD here; leave empty to check the file on disk."
          spellCheck={false}
          className="h-56 w-full rounded border border-line bg-surface p-2 font-mono text-xs"
        />
        <div role="toolbar" aria-label="PRD actions" className="mt-2 flex flex-wrap gap-1.5">
          <Button kind="primary" disabled={busy || !path} onClick={check}>
            Check and plan
          </Button>
          <Button disabled={busy || !plan || errors > 0} onClick={decompose}>
            Decompose
          </Button>
          <Button disabled={busy || !path} onClick={run}>
            ▶ Run
          </Button>
        </div>
        {message && (message.ok ? <p role="status" className="mt-2 text-xs text-ok">{message.text}</p> : <div className="mt-2"><ErrorBox>{message.text}</ErrorBox></div>)}
      </Section>
      {preview && (
        <Section title={`Diagnostics (${preview.diagnostics.length})`}>
          {preview.diagnostics.length === 0 ? <Empty>No problems found.</Empty> : (
            <ul className="flex flex-col gap-1 text-xs" aria-label="Diagnostics">
              {preview.diagnostics.map((d, i) => (
                <li key={i} className="flex flex-wrap items-baseline gap-2" data-code={d.code} data-line={d.line} data-col={d.column}>
                  <Badge tone={d.severity === "error" ? "bad" : d.severity === "warning" ? "warn" : "info"}>{d.severity}</Badge>
                  <code>{d.code}</code>
                  <span className="font-mono text-muted">
                    {path}:{d.line}:{d.column}
                  </span>
                  <span className="basis-full sm:basis-auto">{d.message}</span>
                </li>
              ))}
            </ul>
          )}
        </Section>
      )}
      {refused && <ErrorBox>{refused}</ErrorBox>}
      {plan && (
        <Section title={`Plan: ${plan.tasks} tasks in ${plan.waves.length} waves`}>
          <Waves waves={plan.waves} tasks={plan.graph.tasks} />
        </Section>
      )}
    </div>
  );
}

/** The task graph by waves: each wave depends only on earlier ones. */
function Waves({ waves, tasks }: { waves: string[][]; tasks: PlannedTask[] }) {
  const byKey = new Map(tasks.map((t) => [t.key, t]));
  return (
    <ol className="flex gap-2 overflow-x-auto pb-1" aria-label="Waves">
      {waves.map((wave, i) => (
        <li key={i} className="min-w-48 flex-1 rounded border border-line bg-bg p-1.5" data-wave={i}>
          <h3 className="mb-1 text-[11px] font-semibold uppercase text-muted">Wave {i + 1}</h3>
          <ul className="flex flex-col gap-1">
            {wave.map((key) => {
              const t = byKey.get(key);
              return (
                <li key={key} className="rounded border border-line bg-surface p-1.5 text-xs" data-planned={key}>
                  <div className="flex items-center justify-between gap-1">
                    <span className="font-mono text-[11px] text-muted">{key}</span>
                    {t && t.kind !== "implement" && <Badge>{t.kind}</Badge>}
                  </div>
                  <p className="line-clamp-2">{t?.title}</p>
                  {t && t.depends_on.length > 0 && <p className="mt-0.5 text-[11px] text-muted">after {t.depends_on.join(", ")}</p>}
                </li>
              );
            })}
          </ul>
        </li>
      ))}
    </ol>
  );
}
