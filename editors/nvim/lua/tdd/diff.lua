-- A stage's diff in a new tab: the file before and after the stage's commit,
-- read from git into two read-only buffers, side by side in diff mode.
local tdd = require('tdd')

local M = {}

--- The stage whose change the user most likely wants: GREEN (the
--- implementation) when it committed files, else the newest that did.
function M.pick(stages)
  local chosen
  for _, s in ipairs(stages) do
    if #s.files > 0 and (s.stage == 'green' or not (chosen and chosen.stage == 'green')) then chosen = s end
  end
  return chosen
end

local function show(root, rev, path)
  if not rev or rev == vim.NIL then return {} end
  local out = vim.system({ 'git', '-C', root, 'show', rev .. ':' .. path }, { text = true }):wait()
  if out.code ~= 0 then return {} end -- absent on that side: added or deleted
  local lines = vim.split(out.stdout, '\n', { plain = true })
  if lines[#lines] == '' then table.remove(lines) end
  return lines
end

local function scratch(name, lines, path)
  local buf = vim.api.nvim_create_buf(false, true)
  vim.api.nvim_buf_set_lines(buf, 0, -1, false, lines)
  pcall(vim.api.nvim_buf_set_name, buf, name)
  vim.bo[buf].modifiable = false
  vim.bo[buf].readonly = true
  vim.bo[buf].bufhidden = 'wipe'
  local ft = vim.filetype.match({ filename = path })
  if ft then vim.bo[buf].filetype = ft end
  return buf
end

--- Opens the diff of `task`'s stage (`stage` names one; default: see `pick`)
--- for its first text file; `done(tab)` once shown.
function M.open(task, stage, done)
  local client = tdd.client()
  if not client then return end
  tdd.task_detail(task, function(detail)
    local chosen
    if stage then
      for _, s in ipairs(detail.stages) do
        if s.stage == stage then chosen = s end
      end
    else
      chosen = M.pick(detail.stages)
    end
    if not chosen then
      vim.notify('tdd: ' .. task.key .. ' has no stage commit with changes yet', vim.log.levels.WARN)
      return
    end
    local file
    for _, f in ipairs(chosen.files) do
      if not f.binary then file = file or f end
    end
    if not file then
      vim.notify('tdd: the ' .. chosen.stage .. ' commit changed only binary files', vim.log.levels.WARN)
      return
    end
    local old_path = (file.old_path ~= nil and file.old_path ~= vim.NIL) and file.old_path or file.path
    local short = chosen.commit:sub(1, 10)
    local before = scratch(('tdd://%s^/%s'):format(short, old_path), show(client.root_dir, chosen.parent, old_path), old_path)
    local after = scratch(('tdd://%s/%s'):format(short, file.path), show(client.root_dir, chosen.commit, file.path), file.path)
    vim.cmd('tabnew')
    local scratch_tab_buf = vim.api.nvim_get_current_buf()
    vim.api.nvim_win_set_buf(0, before)
    vim.cmd('diffthis')
    vim.cmd('vertical rightbelow split')
    vim.api.nvim_win_set_buf(0, after)
    vim.cmd('diffthis')
    if vim.api.nvim_buf_is_valid(scratch_tab_buf) and scratch_tab_buf ~= before then
      pcall(vim.api.nvim_buf_delete, scratch_tab_buf, { force = true })
    end
    local others = #chosen.files > 1 and (' (+%d more files)'):format(#chosen.files - 1) or ''
    vim.notify(('tdd: %s %s %s%s'):format(task.key, chosen.stage:upper(), file.path, others))
    if done then done(vim.api.nvim_get_current_tabpage()) end
  end)
end

return M
