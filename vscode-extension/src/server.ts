// Which `tdd-orchestrator` to start: the setting, else the binary bundled
// in a platform-specific VSIX, else one on PATH.

import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export type Found = { path: string; source: string } | { problem: string };

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export function findServer(extensionPath: string, setting: string, env = process.env): Found {
  if (setting.trim()) {
    return executable(setting)
      ? { path: setting, source: "tddOrchestrator.server.path" }
      : {
          problem: `TDD Orchestrator: the server set in tddOrchestrator.server.path (${setting}) is not an executable file. Set it to the tdd-orchestrator binary, or clear it to use the bundled one.`,
        };
  }
  const bundled = join(extensionPath, "server", process.platform === "win32" ? "tdd-orchestrator.exe" : "tdd-orchestrator");
  if (executable(bundled)) return { path: bundled, source: "bundled" };
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    const candidate = join(dir, "tdd-orchestrator");
    if (dir && executable(candidate)) return { path: candidate, source: "PATH" };
  }
  return {
    problem:
      "TDD Orchestrator: no tdd-orchestrator binary found (none bundled for this platform, none on PATH). Set tddOrchestrator.server.path to it, or install it with `cargo install --locked --path server/cli`.",
  };
}
