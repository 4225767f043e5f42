-- A task's evidence in a float: each attempt's verdict, the gate's reasons
-- and the failing tests with their messages.
local tdd = require('tdd')

local M = {}

local function text(v)
  if v == nil or v == vim.NIL then return nil end
  return tostring(v)
end

local function kind_text(kind)
  if type(kind) == 'string' then return (kind:gsub('_', ' ')) end
  if type(kind) ~= 'table' then return '' end
  local parts = {}
  for k, v in pairs(kind) do
    if k ~= 'kind' and (type(v) == 'string' or type(v) == 'number') then parts[#parts + 1] = tostring(v) end
  end
  local name = type(kind.kind) == 'string' and kind.kind:gsub('_', ' ') or 'failure'
  return #parts > 0 and (name .. ': ' .. table.concat(parts, ', ')) or name
end

local function push_lines(lines, prefix, body)
  for _, line in ipairs(vim.split(body, '\n', { plain = true })) do
    lines[#lines + 1] = prefix .. line
  end
end

--- The float's lines for a `tdd/taskDetail` result.
function M.render(detail)
  local t = detail.task
  local lines = {
    ('%s  %s'):format(t.key, t.title),
    ('%s · %s · wave %d'):format(t.state, t.prd, t.wave or 0),
  }
  for _, c in ipairs(t.criteria or {}) do lines[#lines + 1] = '  ' .. c end
  lines[#lines + 1] = ''
  if #detail.attempts == 0 then lines[#lines + 1] = 'No attempt yet.' end
  for _, a in ipairs(detail.attempts) do
    local verdict = a.passed and '✓ passed' or '✗ rejected'
    local kind = text(a.failure_kind) and (' (' .. a.failure_kind .. ')') or ''
    local ms = type(a.duration_ms) == 'number' and ('%.1f s'):format(a.duration_ms / 1000) or ''
    lines[#lines + 1] = ('%s #%d  %s%s  %s  %s'):format(a.stage:upper(), a.attempt, verdict, kind, a.worker, ms)
    if text(a.evidence) then push_lines(lines, '    ', a.evidence) end
    local report = type(a.report) == 'table' and a.report or {}
    for _, list in ipairs({ report.failures, report.problem_list }) do
      for _, f in ipairs(type(list) == 'table' and list or {}) do
        local at = type(f.location) == 'table' and (' at %s:%s'):format(f.location.file, f.location.line) or ''
        local what = text(f.id) and (f.id .. '  ' .. kind_text(f.kind)) or kind_text(f.kind)
        lines[#lines + 1] = ('    ✗ %s%s'):format(what, at)
        if text(f.message) then push_lines(lines, '        ', f.message) end
      end
    end
  end
  if #detail.stages > 0 then
    lines[#lines + 1] = ''
    lines[#lines + 1] = 'Stage commits (d on the panel line opens a diff):'
    for _, s in ipairs(detail.stages) do
      local files = {}
      for _, f in ipairs(s.files) do files[#files + 1] = f.path end
      lines[#lines + 1] = ('  %s %s  %s'):format(s.stage:upper(), s.commit:sub(1, 10), table.concat(files, ', '))
    end
  end
  return lines
end

--- Opens the float for `task` (a snapshot task); `done(buf)` once shown.
function M.open(task, done)
  tdd.task_detail(task, function(detail)
    local lines = M.render(detail)
    local buf = vim.api.nvim_create_buf(false, true)
    vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
    vim.bo[buf].modifiable = false
    vim.bo[buf].bufhidden = 'wipe'
    vim.bo[buf].filetype = 'tdd-detail'
    local width = math.min(math.max(60, math.floor(vim.o.columns * 0.7)), vim.o.columns - 4)
    local height = math.min(#lines, math.max(5, vim.o.lines - 6))
    local win = vim.api.nvim_open_win(buf, true, {
      relative = 'editor',
      width = width,
      height = height,
      row = math.floor((vim.o.lines - height) / 2) - 1,
      col = math.floor((vim.o.columns - width) / 2),
      border = 'rounded',
      title = ' ' .. task.key .. ' ',
    })
    vim.wo[win].wrap = true
    for _, key in ipairs({ 'q', '<Esc>' }) do
      vim.keymap.set('n', key, function() vim.api.nvim_win_close(win, true) end, { buffer = buf, nowait = true })
    end
    if done then done(buf) end
  end)
end

return M
