// Small pieces every screen shares.

import type { ButtonHTMLAttributes, ReactNode } from "react";
import type { Usage } from "./generated/protocol";

export function Button({
  kind = "plain",
  className = "",
  ...props
}: ButtonHTMLAttributes<HTMLButtonElement> & { kind?: "plain" | "primary" | "danger" }) {
  const look = {
    plain: "border-line bg-surface text-fg hover:bg-bg",
    primary: "border-accent bg-accent text-accent-fg hover:opacity-90",
    danger: "border-bad text-bad bg-surface hover:bg-bg",
  }[kind];
  return (
    <button
      type="button"
      className={`rounded border px-2 py-1 text-xs font-medium disabled:cursor-not-allowed disabled:opacity-50 ${look} ${className}`}
      {...props}
    />
  );
}

const TONES: Record<string, string> = {
  ok: "text-ok border-ok",
  bad: "text-bad border-bad",
  warn: "text-warn border-warn",
  info: "text-info border-info",
  muted: "text-muted border-line",
};

export function Badge({ tone = "muted", children, title }: { tone?: keyof typeof TONES | string; children: ReactNode; title?: string }) {
  return (
    <span title={title} className={`inline-flex items-center whitespace-nowrap rounded border px-1.5 text-[11px] leading-5 ${TONES[tone] ?? TONES.muted}`}>
      {children}
    </span>
  );
}

/** The tone of a task state, run status or breaker state. */
export function toneOf(state: string | null | undefined): string {
  switch (state) {
    case "done":
    case "completed":
    case "closed":
    case "passed":
      return "ok";
    case "failed":
    case "blocked":
    case "open":
    case "cancelled":
    case "stopped":
      return "bad";
    case "half_open":
    case "paused":
    case "interrupted":
      return "warn";
    case "running":
    case "ready":
      return "info";
    default:
      return "muted";
  }
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section aria-label={title} className="mb-4 rounded border border-line bg-surface">
      <header className="flex flex-wrap items-center justify-between gap-2 border-b border-line px-3 py-2">
        <h2 className="text-sm font-semibold">{title}</h2>
        {actions}
      </header>
      <div className="p-3">{children}</div>
    </section>
  );
}

export function ErrorBox({ children }: { children: ReactNode }) {
  return (
    <div role="alert" className="mb-3 rounded border border-bad px-3 py-2 text-bad">
      {children}
    </div>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="py-6 text-center text-muted">{children}</p>;
}

/** "12 s ago", "3 min ago", or the date. */
export function ago(at: string | null | undefined, now = Date.now()): string {
  if (!at) return "never";
  const seconds = Math.max(0, Math.round((now - Date.parse(at)) / 1000));
  if (Number.isNaN(seconds)) return at;
  if (seconds < 60) return `${seconds} s ago`;
  if (seconds < 3600) return `${Math.round(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.round(seconds / 3600)} h ago`;
  return new Date(at).toLocaleDateString();
}

export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return "–";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
}

export function cost(usd: number | null | undefined): string {
  if (usd === null || usd === undefined) return "–";
  return usd < 0.01 && usd > 0 ? "<$0.01" : `$${usd.toFixed(2)}`;
}

export function usageText(usage: Usage | null | undefined): string {
  if (!usage || usage.calls === 0) return "no model use";
  const tokens = usage.input_tokens + usage.output_tokens;
  return `${usage.calls} calls · ${tokens.toLocaleString()} tokens · ${cost(usage.cost_usd)}`;
}

/** A progress bar with its numbers for screen readers. */
export function Progress({ done, total, label }: { done: number; total: number; label: string }) {
  const pct = total ? Math.round((done / total) * 100) : 0;
  return (
    <div role="progressbar" aria-label={label} aria-valuemin={0} aria-valuemax={total} aria-valuenow={done} className="h-2 w-full overflow-hidden rounded bg-code">
      <div className="h-full bg-ok" style={{ width: `${pct}%` }} />
    </div>
  );
}
