import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./index.css";
import { HttpTransport } from "./transport";

// In a browser the page comes from `tdd-orchestrator serve`; the VS Code
// webview will mount `App` with its own transport and project.
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <App transport={new HttpTransport()} />
  </StrictMode>,
);
