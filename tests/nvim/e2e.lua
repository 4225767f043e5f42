-- Headless Neovim end-to-end test of the tdd-orchestrator language server.
-- Run: TDD_BIN=target/debug/tdd-orchestrator nvim --headless --clean -c 'luafile tests/nvim/e2e.lua'
-- Exits 0 when every check passes, 1 otherwise; prints one line per check.

local bin = assert(os.getenv('TDD_BIN'), 'set TDD_BIN to the tdd-orchestrator binary')
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local checks = dofile(here .. '/checks.lua')
local check, finish = checks.check, checks.finish

-- A throwaway workspace, so quick fixes never touch the repository.
local root = vim.fn.tempname()
vim.fn.mkdir(root .. '/.tdd', 'p')
local prd = root .. '/loans.prd.md'
vim.fn.writefile(vim.fn.readfile(here .. '/fixture.prd.md'), prd)

-- The shipped configuration (editors/nvim/lsp/tdd_orchestrator.lua), with the
-- binary under test and one setting layered on top.
vim.opt.runtimepath:append(here .. '/../../editors/nvim')
vim.lsp.config('tdd_orchestrator', { cmd = { bin, 'lsp', '--stdio' }, init_options = { maxFileKib = 1024 } })
vim.lsp.enable('tdd_orchestrator')
vim.cmd('edit ' .. vim.fn.fnameescape(prd))
local buf = vim.api.nvim_get_current_buf()

local function codes()
  local found = {}
  for _, d in ipairs(vim.diagnostic.get(buf)) do
    found[#found + 1] = { code = d.code, lnum = d.lnum + 1, col = d.col + 1 }
  end
  return found
end

local function has(code, lnum, col)
  for _, d in ipairs(codes()) do
    if d.code == code and (lnum == nil or d.lnum == lnum) and (col == nil or d.col == col) then return true end
  end
  return false
end

local attached = vim.wait(10000, function() return #vim.lsp.get_clients({ bufnr = buf }) > 0 end, 20)
check('server attaches to the PRD buffer', attached, 'no client attached')
local client = vim.lsp.get_clients({ bufnr = buf })[1]
check('the shipped config is used (root from .tdd)', client and client.root_dir == root, client and client.root_dir)
if not attached then return finish() end

local ready = vim.wait(10000, function() return has('PRD005') and has('PRD002') and has('PRD003') end, 20)
check('diagnostics arrive', ready, vim.inspect(codes()))
check('PRD002 duplicate id at 24:5', has('PRD002', 24, 5), vim.inspect(codes()))
check('PRD003 missing criteria at 19:5', has('PRD003', 19, 5), vim.inspect(codes()))
check('PRD005 vague word "fast" at 29:59', has('PRD005', 29, 59), vim.inspect(codes()))

-- Quick fix: insert the acceptance-criteria skeleton under REQ-2.
vim.api.nvim_win_set_cursor(0, { 19, 5 })
vim.lsp.buf.code_action({
  apply = true,
  filter = function(action) return action.title == 'Insert acceptance criteria skeleton' end,
})
local fixed = vim.wait(10000, function() return not has('PRD003') end, 20)
local text = table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n')
check('quick fix applies and PRD003 clears', fixed and text:find('AC%-2%.1: WHEN') ~= nil, vim.inspect(codes()))

-- Hover on the `REQ-1` reference in `Depends on: REQ-1`.
vim.api.nvim_win_set_cursor(0, { 22, 14 })
vim.lsp.buf.hover()
local hover_text
vim.wait(10000, function()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then
      hover_text = table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), '\n')
      return true
    end
  end
  return false
end, 20)
check('hover on an id returns text', hover_text ~= nil and hover_text:find('Borrow a book') ~= nil, hover_text)

-- Go to definition from the reference lands on the requirement heading.
vim.api.nvim_set_current_win(vim.fn.bufwinid(buf))
vim.api.nvim_win_set_cursor(0, { 22, 14 })
local result = vim.lsp.buf_request_sync(buf, 'textDocument/definition',
  vim.lsp.util.make_position_params(0, 'utf-16'), 5000)
local line
for _, r in pairs(result or {}) do
  local loc = r.result and (r.result.range and r.result or r.result[1])
  if loc then line = loc.range.start.line + 1 end
end
check('definition jumps to REQ-1 heading (line 10)', line == 10, line)

-- Renumber the duplicate REQ-1, then decompose (dry run) from the editor.
-- Earlier edits moved lines: find the duplicate where the server says it is now.
for _, d in ipairs(vim.diagnostic.get(buf)) do
  if d.code == 'PRD002' then vim.api.nvim_win_set_cursor(0, { d.lnum + 1, d.col }) end
end
vim.lsp.buf.code_action({
  apply = true,
  filter = function(action) return action.title == 'Renumber to REQ-3' end,
})
local renumbered = vim.wait(10000, function() return not has('PRD002') end, 20)
check('renumber quick fix clears PRD002', renumbered, vim.inspect(codes()))
local plan
client:exec_cmd({ title = 'Preview', command = 'tdd.decomposeDryRun', arguments = { { uri = vim.uri_from_bufnr(buf) } } },
  { bufnr = buf }, function(err, result) plan = { err = err, result = result } end)
vim.wait(15000, function() return plan ~= nil end, 20)
local tasks = plan and plan.result and plan.result.tasks
check('tdd.decomposeDryRun plans the buffer', type(tasks) == 'number' and tasks >= 3,
  plan and vim.inspect(plan.err or plan.result.changes))

finish()
