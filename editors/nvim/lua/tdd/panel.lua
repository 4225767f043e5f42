-- The panel: a side buffer listing tasks by PRD and state, the breakers,
-- and keys on each line. Redrawn from the state whenever an event lands.
local tdd = require('tdd')
local state = require('tdd.state')

local M = {}

local ns = vim.api.nvim_create_namespace('tdd-panel')

--- The panel buffer, its line → item map, and the client it shows.
local panel = { buf = nil, items = {}, client_id = nil }

local ICONS = {
  done = '✓', failed = '✗', blocked = '✗', running = '●', passed = '●',
  pending = '○', ready = '○', cancelled = '–',
}
local HL = {
  done = 'DiagnosticOk', failed = 'DiagnosticError', blocked = 'DiagnosticError',
  running = 'DiagnosticInfo', passed = 'DiagnosticInfo', cancelled = 'Comment',
  open = 'DiagnosticError', half_open = 'DiagnosticWarn', closed = 'DiagnosticOk',
}
--- Tasks in the order a reader wants them: what moves, what failed, what waits, what is done.
local ORDER = { running = 1, passed = 1, failed = 2, blocked = 2, ready = 3, pending = 3, cancelled = 4, done = 5 }

local function text(v)
  if v == nil or v == vim.NIL then return nil end
  return tostring(v)
end

--- The lines of the panel for `s`, with their items and highlights.
function M.render(s)
  local lines, items, marks = {}, {}, {}
  local function add(line, item, hl)
    lines[#lines + 1] = line
    items[#lines] = item
    if hl then marks[#marks + 1] = { #lines - 1, hl } end
  end
  local snapshot = s.snapshot
  local counts = state.counts(snapshot)
  local run = state.current_run(snapshot)
  local head = ('TDD  %d/%d merged'):format(counts.done or 0, #snapshot.tasks)
  if (counts.failed or 0) + (counts.blocked or 0) > 0 then
    head = head .. (', %d failed'):format((counts.failed or 0) + (counts.blocked or 0))
  end
  if run then
    head = head .. ('  ·  run %d %s'):format(run.id, run.status)
    if text(run.control) then head = head .. (' (%s asked)'):format(run.control) end
  end
  add(head, nil, 'Title')
  add(('last event %d'):format(s.last_seq), nil, 'Comment')
  if #snapshot.tasks == 0 then
    add('')
    add('No tasks yet: :Tdd decompose in a PRD buffer.', nil, 'Comment')
  end
  local by_prd = {}
  for _, t in ipairs(snapshot.tasks) do
    by_prd[t.prd] = by_prd[t.prd] or {}
    table.insert(by_prd[t.prd], t)
  end
  for _, prd in ipairs(snapshot.prds) do
    local tasks = by_prd[prd.path]
    if tasks then
      add('')
      local edited = prd.changed_since_decomposed == true and '  (edited since decomposed)' or ''
      add(prd.path .. edited, { prd = prd }, 'Directory')
      table.sort(tasks, function(a, b)
        local oa, ob = ORDER[a.state] or 3, ORDER[b.state] or 3
        if oa ~= ob then return oa < ob end
        return a.key < b.key
      end)
      for _, t in ipairs(tasks) do
        local where = ''
        if t.state == 'running' or t.state == 'passed' then
          where = ('  %s #%d %s'):format((text(t.stage) or 'red'):upper(), t.attempts or 0, text(t.worker) or '')
        elseif t.state ~= 'pending' then
          where = '  ' .. t.state
        end
        add(('%s %s  %s%s'):format(ICONS[t.state] or '?', t.key, t.title, where), { task = t }, HL[t.state])
        local why = text(t.last_failure)
        if why and t.state ~= 'done' then
          add('    ' .. why:gsub('\n.*', ''):sub(1, 160), { task = t }, 'DiagnosticError')
        end
      end
    end
  end
  add('')
  add('Breakers', { section = 'breakers' }, 'Title')
  local any = false
  for _, b in ipairs(snapshot.breakers) do
    any = true
    local reason = text(b.reason) and ('  ' .. b.reason:gsub('\n.*', '')) or ''
    local name = b.scope == 'system' and 'system' or (b.scope .. ' ' .. b.name)
    add(('%s %s  %s%s'):format(b.state == 'closed' and '●' or '◉', name, b.state, reason), { breaker = b }, HL[b.state])
  end
  if not any then add('  all closed', nil, 'Comment') end
  add('')
  local k = tdd.config.keys
  add(('%s detail  %s diff  %s retry  %s skip  %s done  %s reset breaker  %s refresh  %s close'):format(
    k.detail, k.diff, k.retry, k.skip, k.done, k.reset, k.refresh, k.close), nil, 'Comment')
  return lines, items, marks
end

local function draw()
  if not (panel.buf and vim.api.nvim_buf_is_valid(panel.buf)) then return end
  local client = panel.client_id and vim.lsp.get_client_by_id(panel.client_id)
  local s = client and tdd.state(client)
  if not s then return end
  local lines, items, marks = M.render(s)
  vim.bo[panel.buf].modifiable = true
  vim.api.nvim_buf_set_lines(panel.buf, 0, -1, false, lines)
  vim.bo[panel.buf].modifiable = false
  panel.items = items
  vim.api.nvim_buf_clear_namespace(panel.buf, ns, 0, -1)
  for _, m in ipairs(marks) do
    vim.api.nvim_buf_set_extmark(panel.buf, ns, m[1], 0, { end_row = m[1] + 1, hl_group = m[2], hl_eol = false, end_col = 0 })
  end
end

tdd.on_change(function(client_id)
  if client_id == panel.client_id then draw() end
end)

--- The item on the cursor's line of the panel (nil elsewhere).
function M.item_at_cursor()
  if vim.api.nvim_get_current_buf() ~= panel.buf then return nil end
  return panel.items[vim.api.nvim_win_get_cursor(0)[1]]
end

--- The panel buffer (for tests and statuslines), or nil.
function M.buffer() return panel.buf end

local function map(key, fn, desc)
  vim.keymap.set('n', key, fn, { buffer = panel.buf, nowait = true, silent = true, desc = 'tdd: ' .. desc })
end

local function on_task(fn)
  return function()
    local item = M.item_at_cursor()
    if item and item.task then fn(item.task) end
  end
end

local function create_buffer()
  panel.buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_name(panel.buf, 'tdd://panel')
  vim.bo[panel.buf].filetype = 'tdd-panel'
  vim.bo[panel.buf].bufhidden = 'hide'
  vim.bo[panel.buf].modifiable = false
  local k = tdd.config.keys
  map(k.detail, on_task(function(t) require('tdd.detail').open(t) end), 'task detail')
  map(k.diff, on_task(function(t) require('tdd.diff').open(t) end), 'stage diff')
  map(k.retry, on_task(function(t) tdd.exec('tdd.retry', { task = t.key, prd = t.prd }) end), 'retry')
  map(k.skip, on_task(function(t) tdd.exec('tdd.skip', { task = t.key, prd = t.prd, reason = 'skipped from Neovim' }) end), 'skip')
  map(k.done, on_task(function(t) tdd.exec('tdd.done', { task = t.key, prd = t.prd }) end), 'done (human worker)')
  map(k.reset, function()
    local item = M.item_at_cursor()
    if item and item.breaker then
      tdd.exec('tdd.resetBreaker', { scope = item.breaker.scope, name = item.breaker.name })
    end
  end, 'reset breaker')
  map(k.refresh, function() tdd.reload(vim.lsp.get_client_by_id(panel.client_id)) end, 'refresh')
  map(k.close, function() vim.cmd('close') end, 'close')
end

--- Opens (or focuses) the panel; `opts.focus = 'breakers'` moves to them.
--- Opening reads a fresh snapshot, then follows the pushed events.
function M.open(opts)
  opts = opts or {}
  local client = tdd.client()
  if not client then
    vim.notify('tdd: the language server is not running: open a PRD, or see :checkhealth tdd', vim.log.levels.ERROR)
    return
  end
  panel.client_id = client.id
  if not (panel.buf and vim.api.nvim_buf_is_valid(panel.buf)) then create_buffer() end
  local win = vim.fn.bufwinid(panel.buf)
  if win == -1 then
    local cfg = tdd.config.panel
    vim.cmd((cfg.position == 'left' and 'topleft' or 'botright') .. ' vertical ' .. cfg.width .. 'split')
    win = vim.api.nvim_get_current_win()
    vim.api.nvim_win_set_buf(win, panel.buf)
    vim.wo[win].number = false
    vim.wo[win].relativenumber = false
    vim.wo[win].wrap = false
    vim.wo[win].cursorline = true
    vim.wo[win].winfixwidth = true
  else
    vim.api.nvim_set_current_win(win)
  end
  tdd.reload(client, function()
    draw()
    if opts.focus == 'breakers' then
      for lnum, item in pairs(panel.items) do
        if item.section == 'breakers' then pcall(vim.api.nvim_win_set_cursor, win, { lnum, 0 }) end
      end
    end
  end)
end

function M.close()
  local win = panel.buf and vim.fn.bufwinid(panel.buf) or -1
  if win ~= -1 then vim.api.nvim_win_close(win, true) end
end

return M
