-- :Tdd, defined at start-up; everything else loads on first use.
-- Configure with require('tdd').setup({ ... }) (see :help tdd).
if vim.g.loaded_tdd then return end
vim.g.loaded_tdd = true

vim.api.nvim_create_user_command('Tdd', function(opts) require('tdd').command(opts) end, {
  nargs = '*',
  desc = 'tdd-orchestrator: panel, decompose, dryrun, run, resume, pause, cancel, retry, skip, done, breakers, status',
  complete = function(arglead, cmdline) return require('tdd').complete(arglead, cmdline) end,
})
