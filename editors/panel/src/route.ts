// The address is the state a reload keeps: `#/` the overview,
// `#/p/<project>/<screen>?…` a project's screen.

import { createElement, useEffect, useState, type AnchorHTMLAttributes, type MouseEvent } from "react";

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
    changed(); // a change before this effect ran would be missed otherwise
    return () => window.removeEventListener("hashchange", changed);
  }, []);
  return parseRoute(hash);
}

/** Goes to `hash` (`#/…`). Links do not do it themselves: a VS Code webview
 * takes over clicks on `#` links (it scrolls to an element instead). */
export function navigate(hash: string): void {
  window.history.pushState(null, "", hash);
  window.dispatchEvent(new HashChangeEvent("hashchange"));
}

/** An `<a>` to a screen that works in a browser and in a webview alike. */
export function Link({ to, ...props }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string }) {
  const onClick = (e: MouseEvent<HTMLAnchorElement>) => {
    if (e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    e.stopPropagation();
    navigate(to);
  };
  return createElement("a", { ...props, href: to, onClick });
}
