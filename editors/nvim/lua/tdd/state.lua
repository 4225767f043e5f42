-- One project's state as the panel shows it: a snapshot, then the numbered
-- events the server pushes (`tdd/event`). An event already applied is
-- ignored; a gap asks `tdd/events { after }`; a re-plan asks a fresh
-- snapshot. The same rules as the web panel's reducer (editors/panel).
local M = {}

--- Kinds after which only a snapshot can say what the tasks are.
local REFRESH = { prd_decomposed = true, task_planned = true, task_replanned = true }

--- A fresh state from a snapshot.
function M.new(snapshot)
  return { snapshot = snapshot, last_seq = snapshot.last_seq or 0, need = nil }
end

local function find_task(snapshot, event)
  if not event.task then return nil end
  for _, t in ipairs(snapshot.tasks) do
    if t.key == event.task and (event.prd == nil or event.prd == vim.NIL or t.prd == event.prd) then return t end
  end
end

local function find_run(snapshot, id)
  for _, r in ipairs(snapshot.runs) do
    if r.id == id then return r end
  end
  local run = { id = id, status = 'running', attempts = 0, passed = 0 }
  table.insert(snapshot.runs, run)
  return run
end

local function release(snapshot, key)
  for _, w in ipairs(snapshot.workers) do
    if w.task == key then w.task = vim.NIL end
  end
end

local function nonnil(v)
  if v == nil or v == vim.NIL then return nil end
  return v
end

--- One event's effect. Unknown kinds change nothing.
local function apply(snapshot, event)
  local data = type(event.data) == 'table' and event.data or {}
  local kind = event.kind
  local task = find_task(snapshot, event)
  if kind == 'task.started' and task then
    task.state = 'running'
    task.worker = nonnil(data.worker) or task.worker
  elseif kind == 'stage.attempt' and task then
    task.stage = data.stage or task.stage
    task.attempts = (task.attempts or 0) + 1
    task.worker = nonnil(data.worker) or task.worker
    local reason = data.reasons and data.reasons[1] and data.reasons[1].message
    task.last_failure = (not data.passed) and (reason or nonnil(data.evidence)) or vim.NIL
  elseif kind == 'task.merged' and task then
    task.state = 'done'
    task.last_failure = vim.NIL
    release(snapshot, task.key)
  elseif kind == 'task.failed' and task then
    task.state = 'failed'
    task.last_failure = nonnil(data.reason) or task.last_failure
    release(snapshot, task.key)
  elseif (kind == 'task.interrupted' or kind == 'task.outage') and task then
    task.state = 'pending'
    release(snapshot, task.key)
  elseif (kind == 'task.skipped' or kind == 'task_cancelled') and task then
    task.state = 'cancelled'
    release(snapshot, task.key)
  elseif kind == 'task.retry' and task then
    task.state = 'pending'
    task.last_failure = vim.NIL
  elseif kind == 'task_changed_since_done' and task then
    task.prd_changed_since_done = true
  elseif kind:match('^run%.') and type(data.run) == 'number' then
    local run = find_run(snapshot, data.run)
    if kind == 'run.started' or kind == 'run.resumed' or kind == 'run.unpaused' then
      run.status, run.control = 'running', vim.NIL
    elseif kind == 'run.finished' then
      run.status, run.control, run.finished_at = data.status or run.status, vim.NIL, event.at
    elseif kind == 'run.paused' then
      run.status = 'paused'
    elseif kind == 'run.pause_requested' then
      run.control = 'pause'
    elseif kind == 'run.cancel_requested' then
      run.control = 'cancel'
    end
  elseif kind == 'breaker_transition' and data.scope and data.name then
    local found
    for _, b in ipairs(snapshot.breakers) do
      if b.scope == data.scope and b.name == data.name then found = b end
    end
    if not found then
      found = { scope = data.scope, name = data.name, failures = 0 }
      table.insert(snapshot.breakers, found)
    end
    found.state = data.to
    found.reason = data.reason
    found.opened_at = data.to == 'open' and event.at or vim.NIL
  end
end

--- Applies `events` (any order, any overlap). Returns the events applied.
function M.apply_events(state, events)
  table.sort(events, function(a, b) return a.seq < b.seq end)
  local applied = {}
  for _, event in ipairs(events) do
    if event.seq > state.last_seq then
      if event.seq > state.last_seq + 1 then
        state.need = { kind = 'catch-up', after = state.last_seq }
        break
      end
      apply(state.snapshot, event)
      state.last_seq = event.seq
      state.snapshot.last_seq = event.seq
      applied[#applied + 1] = event
      if REFRESH[event.kind] then
        state.need = { kind = 'refresh' }
      elseif state.need and state.need.kind == 'catch-up' then
        state.need = nil
      end
    end
  end
  return applied
end

--- Tasks by state, as `tdd-orchestrator status` counts them.
function M.counts(snapshot)
  local counts = {}
  for _, t in ipairs(snapshot.tasks) do
    counts[t.state] = (counts[t.state] or 0) + 1
  end
  return counts
end

--- The newest run, or nil.
function M.current_run(snapshot)
  return snapshot.runs[#snapshot.runs]
end

return M
