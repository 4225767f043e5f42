-- tdd-orchestrator language server for Neovim 0.11+.
-- Put this directory on 'runtimepath' (or copy this file into your config's
-- lsp/ folder), then call: vim.lsp.enable('tdd_orchestrator')
return {
  cmd = { 'tdd-orchestrator', 'lsp' },
  -- PRDs are Markdown, YAML, JSON or legacy *_spec.txt files. The server
  -- decides which files are PRDs (globs and front matter) and leaves the rest alone.
  filetypes = { 'markdown', 'yaml', 'json', 'text' },
  root_markers = { '.tdd', '.git' },
  -- Settings: see docs/configuration.md. Unknown keys are ignored.
  init_options = {},
}
