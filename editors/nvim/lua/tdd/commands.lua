-- `:Tdd {panel|decompose|dryrun|run|resume|pause|cancel|retry|skip|done|breakers|status}`.
local M = {}

local function tdd() return require('tdd') end

--- The task a command is about: its argument, or the panel line under the cursor.
local function task_arg(arg)
  if arg and arg ~= '' then return { task = arg } end
  local item = require('tdd.panel').item_at_cursor()
  if item and item.task then return { task = item.task.key, prd = item.task.prd } end
  vim.notify('tdd: name a task (e.g. :Tdd retry REQ-1/AC-1.1) or run this on a panel line', vim.log.levels.ERROR)
end

local function say(result)
  if type(result) == 'table' and result.message then vim.notify('tdd: ' .. result.message) end
end

local handlers = {
  panel = function() require('tdd.panel').open() end,
  breakers = function() require('tdd.panel').open({ focus = 'breakers' }) end,
  decompose = function()
    tdd().exec('tdd.decompose', { uri = tdd().prd_uri() }, function(r)
      vim.notify(('tdd: %s tasks in %d waves'):format(r.tasks, #(r.waves or {})))
    end)
  end,
  dryrun = function()
    tdd().exec('tdd.decomposeDryRun', { uri = tdd().prd_uri() }, function(r)
      vim.notify(('tdd: dry run: %s tasks in %d waves, nothing stored'):format(r.tasks, #(r.waves or {})))
    end)
  end,
  run = function(arg)
    local args = { uri = tdd().prd_uri() }
    if arg and arg ~= '' then args.requirement = arg end
    tdd().exec('tdd.run', args, function(r)
      vim.notify(('tdd: run started with %s worker(s)'):format(r.workers or '?'))
    end)
  end,
  resume = function() tdd().exec('tdd.resume', { uri = tdd().prd_uri() }, say) end,
  pause = function() tdd().exec('tdd.pause', { uri = tdd().prd_uri() }, function() vim.notify('tdd: pause asked') end) end,
  cancel = function() tdd().exec('tdd.cancel', { uri = tdd().prd_uri() }, function() vim.notify('tdd: cancel asked') end) end,
  retry = function(arg)
    local args = task_arg(arg)
    if args then tdd().exec('tdd.retry', args, function() vim.notify('tdd: ' .. args.task .. ' back to pending') end) end
  end,
  skip = function(arg)
    local args = task_arg(arg)
    if args then
      args.reason = 'skipped from Neovim'
      tdd().exec('tdd.skip', args, function() vim.notify('tdd: ' .. args.task .. ' skipped') end)
    end
  end,
  done = function(arg)
    local args = task_arg(arg)
    if args then tdd().exec('tdd.done', args, function() vim.notify('tdd: ' .. args.task .. ': stage done') end) end
  end,
  -- The server answers with a summary message of its own.
  status = function()
    tdd().exec('tdd.status', nil, function()
      local line = tdd().status()
      if line ~= '' then vim.notify('tdd: ' .. line) end
    end)
  end,
}

M.names = vim.tbl_keys(handlers)
table.sort(M.names)

function M.run(opts)
  local name, arg = (opts.args or ''):match('^%s*(%S*)%s*(.-)%s*$')
  if name == '' then name = 'panel' end
  local handler = handlers[name]
  if not handler then
    vim.notify(('tdd: unknown subcommand %q; one of: %s'):format(name, table.concat(M.names, ', ')), vim.log.levels.ERROR)
    return
  end
  handler(arg)
end

--- Subcommands, then task keys (retry, skip, done) or requirements (run).
function M.complete(arglead, cmdline)
  local words = vim.split(cmdline, '%s+', { trimempty = true })
  local first = #words == 1 or (#words == 2 and arglead ~= '')
  if first then
    return vim.tbl_filter(function(n) return vim.startswith(n, arglead) end, M.names)
  end
  local s = tdd().state()
  if not s then return {} end
  local out, seen = {}, {}
  for _, t in ipairs(s.snapshot.tasks) do
    local candidate = words[2] == 'run' and t.requirement or t.key
    if type(candidate) == 'string' and not seen[candidate] and vim.startswith(candidate, arglead) then
      seen[candidate] = true
      out[#out + 1] = candidate
    end
  end
  table.sort(out)
  return out
end

return M
