// Metrics: merges over time and stage durations as uPlot charts; verdict
// kinds, breaker trips and model use as tables.

import { useEffect, useRef, useState, useSyncExternalStore } from "react";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";
import type { Metrics } from "../generated/protocol";
import type { ProjectTransport } from "../transport";
import { duration, Empty, ErrorBox, Section, usageText } from "../ui";

const STAGES = ["red", "green", "verify", "refactor", "merge"];

export function MetricsScreen({ api, lastSeq, since }: { api: ProjectTransport; lastSeq: number; since: string | null }) {
  const [metrics, setMetrics] = useState<Metrics | null>(null);
  const [error, setError] = useState<string | null>(null);
  // Read again as the log grows, at most every few seconds.
  const bucket = Math.floor(lastSeq / 20);
  useEffect(() => {
    api.metrics().then(setMetrics, (e: Error) => setError(e.message));
  }, [api, bucket]);
  if (error) return <ErrorBox>{error}</ErrorBox>;
  if (!metrics) return <p className="text-muted">Loading…</p>;
  const stages = STAGES.filter((s) => metrics.stages[s]);
  return (
    <div className="mx-auto max-w-5xl">
      <Section title="Tasks merged over time">
        {metrics.merged_over_time.length === 0 ? <Empty>Nothing merged yet.</Empty> : (
          <Chart
            label="Tasks merged over time"
            data={mergedSeries(metrics, since)}
            series={[{}, { label: "merged", stroke: "--ok", width: 2, paths: uPlot.paths.stepped!({ align: 1 }) }]}
            time
          />
        )}
      </Section>
      <Section title="Stages">
        {stages.length === 0 ? <Empty>No stage has run yet.</Empty> : (
          <>
            <Chart
              label="Stage duration p50 and p90 in seconds"
              data={[stages.map((_, i) => i), stages.map((s) => (metrics.stages[s].duration_ms?.p50 ?? 0) / 1000), stages.map((s) => (metrics.stages[s].duration_ms?.p90 ?? 0) / 1000)]}
              series={[
                {},
                { label: "p50 s", stroke: "--accent", fill: "--accent", paths: uPlot.paths.bars!({ size: [0.3, 40], align: -1 }), points: { show: false } },
                { label: "p90 s", stroke: "--warn", fill: "--warn", paths: uPlot.paths.bars!({ size: [0.3, 40], align: 1 }), points: { show: false } },
              ]}
              xLabels={stages.map((s) => s.toUpperCase())}
            />
            <div className="mt-3 overflow-x-auto">
              <table className="w-full text-left text-xs" aria-label="Stage attempts and verdicts">
                <thead className="text-muted">
                  <tr>
                    {["Stage", "Attempts", "Passed", "Failed by kind", "p50", "p90", "max"].map((h) => (
                      <th key={h} className="py-1 pr-2 font-normal">{h}</th>
                    ))}
                  </tr>
                </thead>
                <tbody>
                  {stages.map((s) => {
                    const m = metrics.stages[s];
                    const failed = Object.entries(m.failed).map(([k, n]) => `${n} ${k}`).join(", ");
                    return (
                      <tr key={s} className="border-t border-line">
                        <td className="py-1 pr-2 font-semibold uppercase">{s}</td>
                        <td className="py-1 pr-2">{m.attempts}</td>
                        <td className="py-1 pr-2 text-ok">{m.passed}</td>
                        <td className="py-1 pr-2 text-bad">{failed || "–"}</td>
                        <td className="py-1 pr-2">{duration(m.duration_ms?.p50)}</td>
                        <td className="py-1 pr-2">{duration(m.duration_ms?.p90)}</td>
                        <td className="py-1 pr-2">{duration(m.duration_ms?.max)}</td>
                      </tr>
                    );
                  })}
                </tbody>
              </table>
            </div>
          </>
        )}
      </Section>
      <Section title="Breaker trips">
        {Object.keys(metrics.breaker_trips).length === 0 ? <Empty>No breaker has opened.</Empty> : (
          <ul className="flex flex-wrap gap-3 text-xs">
            {Object.entries(metrics.breaker_trips).map(([scope, n]) => (
              <li key={scope}><span className="text-muted">{scope}</span> {n}</li>
            ))}
          </ul>
        )}
      </Section>
      <Section title="Model use by worker">
        {metrics.usage_by_worker.length === 0 ? <Empty>No model was called.</Empty> : (
          <ul className="flex flex-col gap-1 text-xs">
            {metrics.usage_by_worker.map((w) => (
              <li key={w.worker}><span className="font-mono">{w.worker}</span> <span className="text-muted">{usageText(w.usage)}</span></li>
            ))}
          </ul>
        )}
      </Section>
    </div>
  );
}

/** A uPlot chart that follows its container's width. */
function Chart({
  label,
  data,
  series,
  time = false,
  xLabels,
}: {
  label: string;
  data: uPlot.AlignedData;
  series: uPlot.Series[];
  time?: boolean;
  xLabels?: string[];
}) {
  const box = useRef<HTMLDivElement>(null);
  const dark = useDarkScheme();
  // Drawn again only when the numbers or the theme change, not on every render.
  const key = JSON.stringify([data, xLabels, time, dark]);
  useEffect(() => {
    const el = box.current;
    if (!el) return;
    const fg = cssColor(el, "--muted");
    const grid = cssColor(el, "--border");
    const resolve = (s: uPlot.Series): uPlot.Series => ({
      ...s,
      stroke: typeof s.stroke === "string" ? cssColor(el, s.stroke) : s.stroke,
      fill: typeof s.fill === "string" ? cssColor(el, s.fill, 0.35) : s.fill,
    });
    const axis = { stroke: fg, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid } };
    const plot = new uPlot(
      {
        width: el.clientWidth,
        height: 180,
        // Categories sit at 0..n-1: half a step of room keeps the outer bars whole.
        scales: { x: xLabels ? { time, range: [-0.5, xLabels.length - 0.5] } : { time } },
        series: series.map(resolve),
        axes: [
          xLabels ? { ...axis, values: (_u, ticks) => ticks.map((t) => xLabels[t] ?? ""), splits: () => xLabels.map((_, i) => i) } : axis,
          axis,
        ],
        legend: { show: true },
      },
      data,
      el,
    );
    const resize = new ResizeObserver(() => plot.setSize({ width: el.clientWidth, height: 180 }));
    resize.observe(el);
    return () => {
      resize.disconnect();
      plot.destroy();
    };
  }, [key]);
  return <div ref={box} role="img" aria-label={label} className="w-full text-fg" />;
}

/** uPlot draws on a canvas, which reads no CSS variables: the colour a
 * variable resolves to here (VS Code's theme, or the fallbacks). */
function cssColor(el: HTMLElement, variable: string, alpha = 1): string {
  const probe = document.createElement("span");
  probe.style.color = `var(${variable})`;
  if (alpha < 1) probe.style.color = `color-mix(in srgb, var(${variable}) ${alpha * 100}%, transparent)`;
  el.appendChild(probe);
  const color = getComputedStyle(probe).color;
  probe.remove();
  return color || "#888";
}

/** The merged count as steps, from 0 at the first run's start. */
function mergedSeries(metrics: Metrics, since: string | null): uPlot.AlignedData {
  const points = metrics.merged_over_time.map((p) => [Date.parse(p.at) / 1000, p.merged]);
  const start = since ? Date.parse(since) / 1000 : points[0][0] - 60;
  if (start < points[0][0]) points.unshift([start, 0]);
  return [points.map((p) => p[0]), points.map((p) => p[1])];
}

const darkQuery = () => window.matchMedia("(prefers-color-scheme: dark)");

/** Follows the browser's scheme, so the canvas is redrawn in its colours. */
function useDarkScheme(): boolean {
  return useSyncExternalStore(
    (changed) => {
      const query = darkQuery();
      query.addEventListener("change", changed);
      return () => query.removeEventListener("change", changed);
    },
    () => darkQuery().matches,
  );
}
