-- What both headless Neovim tests share: one line per check, and an exit
-- code that says whether every check passed.
local M = { failures = 0 }

function M.check(name, ok, detail)
  io.stdout:write(('%s %s%s\n'):format(ok and 'ok  ' or 'FAIL', name, ok and '' or (': ' .. tostring(detail))))
  if not ok then M.failures = M.failures + 1 end
end

-- Quits Neovim: status 0 when every check passed, 1 otherwise.
function M.finish()
  io.stdout:write(M.failures == 0 and 'all checks passed\n' or (M.failures .. ' check(s) failed\n'))
  vim.cmd(M.failures == 0 and 'qall!' or 'cquit! 1')
end

return M
