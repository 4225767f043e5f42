// Connects the reducer to a project: a snapshot once, then the pushed
// events; a gap fetches the missing events, a re-plan a fresh snapshot.

import { useEffect, useReducer, useRef, useState } from "react";
import { initialState, reduce, type PanelState } from "./state";
import type { ProjectTransport } from "./transport";

export interface Panel {
  state: PanelState;
  /** The event stream is connected. */
  live: boolean;
  /** Why the snapshot could not be read, if it could not. */
  error: string | null;
}

export function usePanel(project: ProjectTransport): Panel {
  const [state, dispatch] = useReducer(reduce, initialState);
  const [live, setLive] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const fetching = useRef(false);

  // The snapshot, then the stream from its last sequence number.
  useEffect(() => {
    let stop: (() => void) | null = null;
    let cancelled = false;
    project
      .snapshot()
      .then((snapshot) => {
        if (cancelled) return;
        dispatch({ type: "snapshot", snapshot });
        stop = project.subscribe(snapshot.last_seq, (events) => dispatch({ type: "events", events }), setLive);
      })
      .catch((e: unknown) => !cancelled && setError(String((e as Error).message ?? e)));
    return () => {
      cancelled = true;
      stop?.();
    };
  }, [project]);

  // What the reducer asks for.
  const need = state.need;
  useEffect(() => {
    if (need.kind === "none" || fetching.current) return;
    fetching.current = true;
    const done = () => {
      fetching.current = false;
    };
    if (need.kind === "catch-up") {
      project
        .eventsAfter(need.after)
        .then((page) => dispatch({ type: "events", events: page.events }))
        .catch((e: unknown) => setError(String((e as Error).message ?? e)))
        .finally(done);
    } else {
      project
        .snapshot()
        .then((snapshot) => dispatch({ type: "snapshot", snapshot }))
        .catch((e: unknown) => setError(String((e as Error).message ?? e)))
        .finally(done);
    }
  }, [need, project]);

  return { state, live, error };
}
