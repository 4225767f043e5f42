// The address is the state a reload keeps: `#/` the overview,
// `#/p/<project>/<screen>?…` a project's screen.

import { useEffect, useState } from "react";

export const SCREENS = ["board", "task", "workers", "metrics", "prd", "embed"] as const;
export type Screen = (typeof SCREENS)[number];

export type Route =
  | { screen: "overview" }
  | { screen: Screen; project: string; params: URLSearchParams };

export function parseRoute(hash: string): Route {
  const [path, query = ""] = hash.replace(/^#/, "").split("?", 2);
  const parts = path.split("/").filter(Boolean);
  if (parts[0] === "p" && parts[1]) {
    const screen = (SCREENS as readonly string[]).includes(parts[2]) ? (parts[2] as Screen) : "board";
    return { screen, project: decodeURIComponent(parts[1]), params: new URLSearchParams(query) };
  }
  return { screen: "overview" };
}

export function href(project: string, screen: Screen, params: Record<string, string | undefined> = {}): string {
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v) query.set(k, v);
  const q = query.toString();
  return `#/p/${encodeURIComponent(project)}/${screen}${q ? `?${q}` : ""}`;
}

export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const changed = () => setHash(window.location.hash);
    window.addEventListener("hashchange", changed);
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return parseRoute(hash);
}
