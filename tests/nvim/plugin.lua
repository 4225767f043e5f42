-- Headless Neovim test of the plugin in editors/nvim, loaded as a user would
-- (runtimepath, plugin/, setup()), against the real binary and a real
-- scripted-worker run of a Python fixture.
-- Run: TDD_BIN=target/debug/tdd-orchestrator nvim --headless --clean -c 'luafile tests/nvim/plugin.lua'
-- Exits 0 when every check passes, 1 otherwise; prints one line per check.

local bin = vim.fn.fnamemodify(assert(os.getenv('TDD_BIN'), 'set TDD_BIN to the tdd-orchestrator binary'), ':p')
local here = vim.fn.fnamemodify(debug.getinfo(1, 'S').source:sub(2), ':p:h')
local repo = vim.fn.fnamemodify(here .. '/../..', ':p'):gsub('/$', '')
local checks = dofile(here .. '/checks.lua')
local check, finish = checks.check, checks.finish

local function sh(cmd, cwd)
  local out = vim.system(cmd, { cwd = cwd, text = true }):wait()
  assert(out.code == 0, table.concat(cmd, ' ') .. ': ' .. (out.stderr or ''))
  return out.stdout
end

local function write(path, text)
  vim.fn.mkdir(vim.fn.fnamemodify(path, ':h'), 'p')
  local f = assert(io.open(path, 'w'))
  f:write(text)
  f:close()
end

-- pytest for the fixture's test runs; a throw-away registry.
vim.env.PATH = repo .. '/.venv/bin:' .. vim.env.PATH
vim.env.PYTHONDONTWRITEBYTECODE = '1'
local root = vim.fn.tempname()
vim.env.XDG_DATA_HOME = root .. '-data'

-- The fixture: two requirements; REQ-1's first GREEN is wrong and rejected.
vim.fn.mkdir(root, 'p')
sh({ 'git', 'init', '-q', '-b', 'main' }, root)
sh({ 'git', 'config', 'user.name', 'Ada Tester' }, root)
sh({ 'git', 'config', 'user.email', 'ada@example.com' }, root)
write(root .. '/.gitignore', '__pycache__/\n*.pyc\n.pytest_cache/\n/script.toml\n')
write(root .. '/pyproject.toml', '[project]\nname = "calc"\nversion = "0.1.0"\n')
write(root .. '/pytest.ini', '[pytest]\ntestpaths = tests\n')
write(root .. '/conftest.py', 'import pathlib\nimport sys\n\nsys.path.insert(0, str(pathlib.Path(__file__).parent / "src"))\n')
write(root .. '/src/README', 'sources\n')
-- The editor tests' shared fixture (tests/fixtures/editors).
local fixtures = repo .. '/tests/fixtures/editors/'
write(root .. '/calc.prd.md', table.concat(vim.fn.readfile(fixtures .. 'calc.prd.md'), '\n') .. '\n')
write(root .. '/script.toml', table.concat(vim.fn.readfile(fixtures .. 'calc.script.toml'), '\n') .. '\n')
sh({ bin, 'init', '--language', 'python' }, root)
local config = table.concat(vim.fn.readfile(root .. '/.tdd/config.toml'), '\n')
config = config:gsub('\n%[worker%]\n', '\n[worker]\nkind = "scripted"\ncount = 1\n', 1)
write(root .. '/.tdd/config.toml', config .. '\n\n[worker.scripted]\nscript = "script.toml"\n')
sh({ 'git', 'add', '-A' }, root)
sh({ 'git', 'commit', '-q', '-m', 'init' }, root)

-- The plugin, as a package manager loads it.
vim.opt.runtimepath:append(repo .. '/editors/nvim')
vim.cmd('runtime! plugin/tdd.lua')
check(':Tdd is defined by plugin/', vim.fn.exists(':Tdd') == 2, vim.fn.exists(':Tdd'))
require('tdd').setup({ cmd = { bin, 'lsp' } })
vim.cmd('edit ' .. vim.fn.fnameescape(root .. '/calc.prd.md'))
local prd_buf = vim.api.nvim_get_current_buf()
local attached = vim.wait(10000, function() return require('tdd').client(prd_buf) ~= nil end, 20)
check('the server attaches to the PRD', attached, 'no client')
if not attached then return finish() end

local completions = vim.fn.getcompletion('Tdd r', 'cmdline')
check('subcommands complete', vim.tbl_contains(completions, 'run') and vim.tbl_contains(completions, 'retry'), vim.inspect(completions))

vim.cmd('Tdd decompose')
local panel = require('tdd.panel')
local function panel_text()
  local buf = panel.buffer()
  return buf and table.concat(vim.api.nvim_buf_get_lines(buf, 0, -1, false), '\n') or ''
end
vim.wait(15000, function()
  local s = require('tdd').state()
  return s and #s.snapshot.tasks == 2
end, 50)
vim.cmd('Tdd panel')
local listed = vim.wait(15000, function() return panel_text():find('REQ%-2/AC%-2%.1') ~= nil end, 50)
check('the panel lists the decomposed tasks', listed and panel_text():find('○ REQ%-1/AC%-1%.1') ~= nil, panel_text())
local keys = vim.fn.getcompletion('Tdd retry REQ-1', 'cmdline')
check('task keys complete from the snapshot', vim.tbl_contains(keys, 'REQ-1/AC-1.1'), vim.inspect(keys))

-- Run from the editor; close the panel mid-run and open it again.
vim.api.nvim_set_current_win(vim.fn.bufwinid(prd_buf))
vim.cmd('Tdd run')
local moving = vim.wait(30000, function() return panel_text():find('●') ~= nil end, 50)
check('a task is shown running', moving, panel_text())
vim.wait(30000, function() return panel_text():find('✓ REQ%-1') ~= nil end, 50)
panel.close()
vim.wait(1500, function() return false end, 100)
vim.cmd('Tdd panel')
local all_merged = vim.wait(90000, function()
  return panel_text():find('TDD  2/2 merged') ~= nil and panel_text():find('run 1 completed') ~= nil
end, 100)
check('the panel ends with every task merged and the run completed', all_merged, panel_text())

-- Same as the store, and as `tdd-orchestrator status`.
local live = {}
for _, t in ipairs(require('tdd').state().snapshot.tasks) do live[#live + 1] = ('%s %s %d'):format(t.key, t.state, t.attempts) end
local fresh = vim.lsp.buf_request_sync(prd_buf, 'tdd/snapshot', {}, 5000)
local stored = {}
for _, r in pairs(fresh or {}) do
  for _, t in ipairs(r.result.tasks) do stored[#stored + 1] = ('%s %s %d'):format(t.key, t.state, t.attempts) end
end
table.sort(live)
table.sort(stored)
check('the panel reopened mid-run shows what the store holds', vim.deep_equal(live, stored), vim.inspect({ live, stored }))
local status = sh({ bin, 'status' }, root)
check('`tdd-orchestrator status` agrees: done 2', status:find('done 2') ~= nil, status)

-- <CR> on REQ-1: the rejected GREEN and its reasons.
local function go_to(pattern)
  vim.api.nvim_set_current_win(vim.fn.bufwinid(panel.buffer()))
  for lnum, line in ipairs(vim.api.nvim_buf_get_lines(panel.buffer(), 0, -1, false)) do
    if line:find(pattern) then
      vim.api.nvim_win_set_cursor(0, { lnum, 0 })
      return true
    end
  end
end
go_to('REQ%-1/AC%-1%.1')
vim.api.nvim_feedkeys(vim.keycode('<CR>'), 'x', false)
local float
vim.wait(10000, function()
  for _, win in ipairs(vim.api.nvim_list_wins()) do
    if vim.api.nvim_win_get_config(win).relative ~= '' then float = win end
  end
  return float ~= nil
end, 20)
local detail = float and table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(float), 0, -1, false), '\n') or ''
check('<CR> shows the rejected GREEN', detail:find('GREEN #1  ✗ rejected') ~= nil, detail)
check('… with the failing test and its message', detail:find('test_add') ~= nil and detail:find('assert') ~= nil, detail)
if float then vim.api.nvim_win_close(float, true) end

-- d: the GREEN diff in a new tab, two windows in diff mode.
go_to('REQ%-1/AC%-1%.1')
local tabs = #vim.api.nvim_list_tabpages()
vim.api.nvim_feedkeys('d', 'x', false)
vim.wait(10000, function() return #vim.api.nvim_list_tabpages() > tabs end, 20)
local wins = vim.api.nvim_tabpage_list_wins(0)
local diffed, after = 0, ''
for _, win in ipairs(wins) do
  if vim.wo[win].diff then diffed = diffed + 1 end
  after = after .. table.concat(vim.api.nvim_buf_get_lines(vim.api.nvim_win_get_buf(win), 0, -1, false), '\n')
end
check('d opens two windows in diff mode', #wins == 2 and diffed == 2, ('%d windows, %d in diff mode'):format(#wins, diffed))
check('… with the implementation', after:find('return a %+ b') ~= nil, after)
vim.cmd('tabclose')

-- The statusline component.
local line = require('tdd').status()
check('status() says the run and the count', line == 'TDD completed 2/2', line)

-- :checkhealth tdd reports no error.
vim.cmd('checkhealth tdd')
local health = table.concat(vim.api.nvim_buf_get_lines(0, 0, -1, false), '\n')
check(':checkhealth tdd has no error', health:find('ERROR') == nil and health:find('store is readable') ~= nil, health)
vim.cmd('bwipeout!')

-- :help tdd after :helptags.
vim.cmd('helptags ' .. vim.fn.fnameescape(repo .. '/editors/nvim/doc'))
local ok, err = pcall(vim.cmd, 'help tdd')
check(':help tdd opens the plugin help', ok and vim.bo.filetype == 'help' and vim.fn.expand('%:t') == 'tdd.txt', err or vim.fn.expand('%:t'))

finish()
