// Workers and breakers: what each worker does and how it fares, and the
// system → worker → stage (→ provider) breakers with reset and isolate.

import { useState } from "react";
import type { BreakerView, Snapshot } from "../generated/protocol";
import type { ProjectTransport } from "../transport";
import { ago, Badge, Button, Empty, ErrorBox, Section, toneOf } from "../ui";

const SCOPES = ["system", "provider", "worker", "stage"];

export function Workers({ api, snapshot }: { api: ProjectTransport; snapshot: Snapshot }) {
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const act = (action: "reset" | "isolate", b: { scope: string; name: string }) =>
    api
      .command({ kind: "breaker", action, scope: b.scope, name: b.name, reason: action === "isolate" ? "isolated from the panel" : undefined })
      .then(() => setMessage({ ok: true, text: `${b.scope} breaker ${b.name}: ${action === "reset" ? "closed" : "isolated"}` }))
      .catch((e: Error) => setMessage({ ok: false, text: e.message }));
  const breakers = [...snapshot.breakers].sort((a, b) => SCOPES.indexOf(a.scope) - SCOPES.indexOf(b.scope) || a.name.localeCompare(b.name));
  const system = breakers.find((b) => b.scope === "system") ?? { scope: "system", name: "system", state: "closed", failures: 0 };
  return (
    <div className="mx-auto max-w-5xl">
      {message && (message.ok ? <p role="status" className="mb-2 text-xs text-muted">{message.text}</p> : <ErrorBox>{message.text}</ErrorBox>)}
      <Section title="Workers">
        {snapshot.workers.length === 0 ? <Empty>No worker has worked here yet.</Empty> : (
          <div className="overflow-x-auto">
            <table className="w-full text-left text-xs">
              <thead className="text-muted">
                <tr>
                  <th className="py-1 pr-2 font-normal">Worker</th>
                  <th className="py-1 pr-2 font-normal">Task</th>
                  <th className="py-1 pr-2 font-normal">Stages ✓/✗</th>
                  <th className="py-1 pr-2 font-normal">Heartbeat</th>
                  <th className="py-1 pr-2 font-normal">Breaker</th>
                  <th className="py-1 font-normal"><span className="sr-only">Actions</span></th>
                </tr>
              </thead>
              <tbody>
                {snapshot.workers.map((w) => (
                  <tr key={w.id} className="border-t border-line" data-worker={w.id}>
                    <td className="py-1 pr-2">
                      <span className="font-mono">{w.id}</span>
                      {w.kind && <span className="text-muted"> · {w.kind}</span>}
                    </td>
                    <td className="py-1 pr-2 font-mono">{w.task ?? <span className="text-muted">idle</span>}</td>
                    <td className="py-1 pr-2">
                      <span className="text-ok">{w.stages_passed}</span> / <span className="text-bad">{w.stages_failed}</span>
                    </td>
                    <td className="py-1 pr-2">{ago(w.last_heartbeat)}</td>
                    <td className="py-1 pr-2"><Badge tone={toneOf(w.breaker ?? "closed")}>{w.breaker ?? "closed"}</Badge></td>
                    <td className="py-1 text-right">
                      {w.breaker && w.breaker !== "closed" ? (
                        <Button onClick={() => act("reset", { scope: "worker", name: w.id })}>Reset</Button>
                      ) : (
                        <Button onClick={() => act("isolate", { scope: "worker", name: w.id })}>Isolate</Button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Section>
      <Section title="Circuit breakers">
        <ul className="flex flex-col gap-1.5" aria-label="Breakers">
          {[system, ...breakers.filter((b) => b !== system)].map((b) => (
            <BreakerRow key={`${b.scope}:${b.name}`} breaker={b} onAct={act} />
          ))}
        </ul>
      </Section>
    </div>
  );
}

function BreakerRow({ breaker: b, onAct }: { breaker: BreakerView; onAct: (action: "reset" | "isolate", b: BreakerView) => void }) {
  const indent = { system: "", provider: "ml-3", worker: "ml-3", stage: "ml-6" }[b.scope] ?? "";
  return (
    <li className={`flex flex-wrap items-center gap-2 rounded border border-line px-2 py-1.5 ${indent}`} data-breaker={`${b.scope}:${b.name}`} data-state={b.state}>
      <span className={`h-2.5 w-2.5 shrink-0 rounded-full ${b.state === "closed" ? "bg-ok" : b.state === "open" ? "bg-bad" : "bg-warn"}`} aria-hidden />
      <span className="text-[11px] uppercase text-muted">{b.scope}</span>
      <span className="min-w-0 flex-1 truncate font-mono text-xs" title={b.name}>{b.scope === "system" ? "" : b.name}</span>
      <Badge tone={toneOf(b.state)}>{b.state.replace("_", "-")}</Badge>
      <span className="text-[11px] text-muted">
        {b.state === "closed" ? `${b.failures} failure${b.failures === 1 ? "" : "s"} in a row` : b.opened_at && `opened ${ago(b.opened_at)}`}
        {b.state === "open" && (b.next_trial ? ` · next trial ${new Date(b.next_trial).toLocaleTimeString()}` : " · until reset")}
      </span>
      {b.reason && <span className="basis-full text-[11px] text-muted">{b.reason}</span>}
      <span className="flex gap-1">
        {b.state !== "closed" && <Button onClick={() => onAct("reset", b)} aria-label={`Reset ${b.scope} breaker ${b.name}`}>Reset</Button>}
        {b.state !== "open" && <Button kind="danger" onClick={() => onAct("isolate", b)} aria-label={`Isolate ${b.scope} breaker ${b.name}`}>Isolate</Button>}
      </span>
    </li>
  );
}
