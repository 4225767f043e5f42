-- `:checkhealth tdd`: the binary, the server, the project, the store.
local M = {}

function M.check()
  local health = vim.health
  local tdd = require('tdd')
  health.start('tdd-orchestrator')

  local cmd = tdd.config.cmd
  local exe = cmd[1] and vim.fn.exepath(cmd[1]) or ''
  if exe == '' then
    health.error(('`%s` is not found'):format(cmd[1] or '?'), {
      'Install it: cargo install --locked --path server/cli (from the repository)',
      "or set the full path: require('tdd').setup({ cmd = { '/path/to/tdd-orchestrator', 'lsp' } })",
    })
  else
    local out = vim.system({ exe, '--version' }, { text = true }):wait()
    if out.code == 0 then
      health.ok(('%s (%s)'):format(vim.trim(out.stdout), exe))
    else
      health.error(('%s --version failed: %s'):format(exe, vim.trim(out.stderr or '')))
    end
  end

  local client = tdd.client()
  if not client then
    health.warn('the language server is not attached', { 'Open a PRD file (e.g. *.prd.md) in a project with .tdd/ or .git/' })
    return
  end
  health.ok(('the language server is attached (client %d, root %s)'):format(client.id, client.root_dir or '?'))
  local root = client.root_dir
  if not root or vim.fn.isdirectory(root .. '/.tdd') == 0 then
    health.warn('the project is not initialised', { 'Run `tdd-orchestrator init` in ' .. (root or 'the project') })
    return
  end
  health.ok('the project is initialised (' .. root .. '/.tdd)')
  local answer = client:request_sync('tdd/snapshot', {}, 5000)
  if not answer or answer.err then
    health.error('the store cannot be read: ' .. ((answer and answer.err and answer.err.message) or 'no answer in 5 s'))
  else
    local s = answer.result
    health.ok(('the store is readable: %d tasks, %d PRDs, last event %d'):format(#s.tasks, #s.prds, s.last_seq))
  end
end

return M
