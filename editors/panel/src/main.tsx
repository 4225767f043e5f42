import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { App } from "./App";
import "./index.css";
import { HttpTransport } from "./transport";
import { inVsCode, VsCodeTransport, WORKSPACE } from "./vscode";

// In a browser the page comes from `tdd-orchestrator serve`; in a VS Code
// webview the extension relays the same calls to the language server.
const root = createRoot(document.getElementById("root")!);
root.render(
  <StrictMode>
    {inVsCode() ? <App transport={new VsCodeTransport()} fixedProject={WORKSPACE} /> : <App transport={new HttpTransport()} />}
  </StrictMode>,
);
