-- tdd-orchestrator for Neovim 0.11+: the language server configured with the
-- panel protocol, `:Tdd` commands, a task panel, a statusline component and
-- `:checkhealth tdd`. See `:help tdd`.
local state = require('tdd.state')

local M = {}

local NAME = 'tdd_orchestrator'

M.defaults = {
  --- The server: a binary on PATH, or a full path.
  cmd = { 'tdd-orchestrator', 'lsp' },
  --- Settings passed as initializationOptions (docs/configuration.md).
  init_options = {},
  --- Call vim.lsp.enable() for you.
  enable = true,
  panel = { width = 56, position = 'right' },
  keys = {
    detail = '<CR>',
    diff = 'd',
    retry = 'r',
    skip = 's',
    done = 'D',
    reset = 'X',
    refresh = 'R',
    close = 'q',
  },
}

M.config = vim.deepcopy(M.defaults)

--- Per client id: `{ state = <tdd.state>|nil, waiting = { callbacks } }`.
local projects = {}

--- Listeners called (scheduled) after the state changes.
local listeners = {}

function M.on_change(fn) listeners[#listeners + 1] = fn end

local function changed(client_id)
  vim.schedule(function()
    for _, fn in ipairs(listeners) do fn(client_id) end
  end)
end

--- The tdd-orchestrator client for `bufnr` (or the current buffer), else any.
function M.client(bufnr)
  local mine = vim.lsp.get_clients({ name = NAME, bufnr = bufnr or vim.api.nvim_get_current_buf() })
  if mine[1] then return mine[1] end
  return vim.lsp.get_clients({ name = NAME })[1]
end

local function project(client)
  projects[client.id] = projects[client.id] or { waiting = {} }
  return projects[client.id]
end

--- The state of `client`'s project, or nil before its first snapshot.
function M.state(client)
  client = client or M.client()
  return client and projects[client.id] and projects[client.id].state or nil
end

--- Asks for what the state needs (a catch-up or a fresh snapshot).
local function satisfy(client)
  local p = project(client)
  local need = p.state and p.state.need
  if not need or p.fetching then return end
  p.fetching = true
  if need.kind == 'catch-up' then
    client:request('tdd/events', { after = need.after }, function(err, result)
      p.fetching = false
      if err or not result then return end
      p.state.need = nil
      state.apply_events(p.state, result.events)
      changed(client.id)
      satisfy(client)
    end)
  else
    M.reload(client)
    p.fetching = false
  end
end

--- Reads a fresh snapshot; `done(state)` when it is in.
function M.reload(client, done)
  client = client or M.client()
  if not client then return end
  local p = project(client)
  client:request('tdd/snapshot', {}, function(err, snapshot)
    if err or not snapshot then
      vim.notify('tdd: ' .. (err and err.message or 'no snapshot'), vim.log.levels.ERROR)
      return
    end
    -- Events pushed while the snapshot was read are applied on it again.
    local newer = {}
    for _, e in ipairs(p.pushed or {}) do
      if e.seq > snapshot.last_seq then newer[#newer + 1] = e end
    end
    p.state = state.new(snapshot)
    state.apply_events(p.state, newer)
    p.pushed = {}
    changed(client.id)
    satisfy(client)
    if done then done(p.state) end
  end)
end

--- The state now, or after the first snapshot.
function M.with_state(client, fn)
  local p = project(client)
  if p.state then return fn(p.state) end
  M.reload(client, fn)
end

--- `tdd/event`: one entry of the project's log.
local function on_event(_, event, ctx)
  local client = vim.lsp.get_client_by_id(ctx.client_id)
  if not client or type(event) ~= 'table' then return end
  local p = project(client)
  if not p.state then
    -- Kept until the first snapshot arrives.
    p.pushed = p.pushed or {}
    table.insert(p.pushed, event)
    return
  end
  if #state.apply_events(p.state, { event }) > 0 then changed(client.id) end
  if event.kind == 'task.notice' and type(event.data) == 'table' then
    vim.notify(('tdd: %s: %s'):format(event.task or '', event.data.message or ''), vim.log.levels.WARN)
  end
  satisfy(client)
end

function M.setup(opts)
  M.config = vim.tbl_deep_extend('force', vim.deepcopy(M.defaults), opts or {})
  vim.lsp.config(NAME, {
    cmd = M.config.cmd,
    init_options = vim.tbl_extend('force', M.config.init_options, { panel = true }),
    handlers = { ['tdd/event'] = on_event },
  })
  if M.config.enable then vim.lsp.enable(NAME) end
  vim.api.nvim_create_autocmd('LspDetach', {
    group = vim.api.nvim_create_augroup('tdd', { clear = true }),
    callback = function(args)
      local client = vim.lsp.get_client_by_id(args.data.client_id)
      if client and client.name == NAME and #vim.lsp.get_buffers_by_client_id(client.id) <= 1 then
        projects[client.id] = nil
      end
    end,
  })
end

--- Runs a server command; `done(result)` on success, errors are notified.
function M.exec(command, args, done)
  local client = M.client()
  if not client then
    vim.notify('tdd: the language server is not running: open a PRD, or see :checkhealth tdd', vim.log.levels.ERROR)
    return
  end
  client:exec_cmd({ title = command, command = command, arguments = args and { args } or {} }, {
    bufnr = vim.api.nvim_get_current_buf(),
  }, function(err, result)
    if err then
      vim.notify('tdd: ' .. err.message, vim.log.levels.ERROR)
    elseif done then
      done(result)
    end
  end)
end

--- `tdd/taskDetail` of `task` (a snapshot task); `done(detail)` on success,
--- the error notified otherwise.
function M.task_detail(task, done)
  local client = M.client()
  if not client then return end
  client:request('tdd/taskDetail', { task = task.key, prd = task.prd }, function(err, detail)
    if err or not detail then
      vim.notify('tdd: ' .. (err and err.message or 'no detail'), vim.log.levels.ERROR)
      return
    end
    done(detail)
  end)
end

--- The PRD a command is about: the current buffer when it is one the
--- project decomposed (or looks like a PRD), else the project's first.
function M.prd_uri()
  local client = M.client()
  local name = vim.api.nvim_buf_get_name(0)
  local s = M.state(client)
  if name ~= '' and client and client.root_dir then
    local rel = vim.fs.relpath and vim.fs.relpath(client.root_dir, name) or name
    for _, prd in ipairs(s and s.snapshot.prds or {}) do
      if prd.path == rel then return vim.uri_from_fname(name) end
    end
    if name:match('%.prd%.[%w]+$') or name:match('_spec%.txt$') then return vim.uri_from_fname(name) end
  end
  local first = s and s.snapshot.prds[1]
  if first and client and client.root_dir then return vim.uri_from_fname(client.root_dir .. '/' .. first.path) end
  if name ~= '' then return vim.uri_from_fname(name) end
end

--- The statusline component: run state, merged/total, an open breaker.
function M.status()
  local s = M.state()
  if not s then return '' end
  local snapshot = s.snapshot
  local counts = state.counts(snapshot)
  local parts = {}
  local run = state.current_run(snapshot)
  if run then parts[#parts + 1] = run.status end
  parts[#parts + 1] = ('%d/%d'):format(counts.done or 0, #snapshot.tasks)
  for _, b in ipairs(snapshot.breakers) do
    if b.state ~= 'closed' then
      parts[#parts + 1] = 'breaker ' .. b.state
      break
    end
  end
  return 'TDD ' .. table.concat(parts, ' ')
end

M.subcommands = require('tdd.commands').names

function M.command(args)
  require('tdd.commands').run(args)
end

function M.complete(arglead, cmdline)
  return require('tdd.commands').complete(arglead, cmdline)
end

return M
