-- codex-ls for Neovim 0.11+, no plugins needed.
--
-- Install: copy this file to ~/.config/nvim/plugin/codex_ls.lua (or `dofile()` it from init.lua).
-- Options, set before it runs (all optional):
--
--   vim.g.codex_ls = {
--     cmd = { 'codex-ls' },                 -- how to start the server
--     filetypes = { 'python', ... },        -- where it attaches
--     settings = { model = { name = nil } },-- the `codexLs` settings (README: settings table)
--     inline = true,                        -- ghost text on 0.12; false: completion menu instead
--     keys = { accept = '<Tab>', next = '<M-]>', prev = '<M-[>', code_action = '<leader>ca' },
--   }
--
-- Neovim 0.12: `vim.lsp.inline_completion` shows the suggestion as ghost text while you type;
-- <Tab> accepts it (a plain <Tab> when there is none), <M-]> / <M-[> cycle through suggestions.
-- Neovim 0.11 (no inline completion): the same suggestion comes as the first item of the
-- completion menu, opened automatically by `vim.lsp.completion` (autotrigger); <C-y> accepts.
-- Both: <leader>ca (normal or visual mode) lists codex-ls's code actions at the cursor or selection
-- (Generate code from comment, Implement function, Edit selection); pick one and its edit is applied.

if vim.fn.has('nvim-0.11') == 0 then
  vim.notify('codex-ls: this set-up needs Neovim 0.11 or newer', vim.log.levels.WARN)
  return
end

local defaults = {
  cmd = { 'codex-ls' },
  filetypes = { 'python', 'javascript', 'javascriptreact', 'typescript', 'typescriptreact', 'go', 'rust', 'java', 'c', 'cpp' },
  root_markers = { '.git' },
  settings = {},
  inline = true,
  keys = { accept = '<Tab>', next = '<M-]>', prev = '<M-[>', code_action = '<leader>ca' },
}
local opts = vim.tbl_deep_extend('force', defaults, vim.g.codex_ls or {})
local use_inline = opts.inline and vim.lsp.inline_completion ~= nil

-- An empty Lua table would go out as a JSON array; the server wants an object.
local settings = next(opts.settings) and opts.settings or vim.empty_dict()
local config = {
  cmd = opts.cmd,
  filetypes = opts.filetypes,
  root_markers = opts.root_markers,
  settings = { codexLs = settings },
  init_options = settings,
}
if not use_inline then
  -- Do not declare inline completion: the server then serves `textDocument/completion`.
  config.capabilities = { textDocument = { inlineCompletion = vim.NIL } }
end
vim.lsp.config('codex_ls', config)
vim.lsp.enable('codex_ls')

local function map(mode, lhs, rhs, buf, desc, expr)
  if lhs and lhs ~= '' then
    vim.keymap.set(mode, lhs, rhs, { buffer = buf, desc = desc, expr = expr })
  end
end

vim.api.nvim_create_autocmd('LspAttach', {
  group = vim.api.nvim_create_augroup('codex_ls', { clear = true }),
  callback = function(args)
    local client = vim.lsp.get_client_by_id(args.data.client_id)
    if not client or client.name ~= 'codex_ls' then
      return
    end
    local buf, keys = args.buf, opts.keys
    if use_inline and client:supports_method('textDocument/inlineCompletion', buf) then
      vim.lsp.inline_completion.enable(true, { bufnr = buf })
      map('i', keys.accept, function()
        if not vim.lsp.inline_completion.get() then
          return keys.accept
        end
      end, buf, 'codex-ls: accept the suggestion', true)
      map('i', keys.next, function() vim.lsp.inline_completion.select({ count = 1 }) end, buf, 'codex-ls: next suggestion')
      map('i', keys.prev, function() vim.lsp.inline_completion.select({ count = -1 }) end, buf, 'codex-ls: previous suggestion')
    elseif client:supports_method('textDocument/completion', buf) then
      vim.lsp.completion.enable(true, client.id, buf, { autotrigger = true })
      -- vim.lsp.completion inserts only the first word of a plain-text edit (`return` of
      -- `return low`); on accepting a codex-ls item, insert the rest of its text too.
      vim.api.nvim_create_autocmd('CompleteDone', {
        buffer = buf,
        group = vim.api.nvim_create_augroup('codex_ls_complete_' .. buf, { clear = true }),
        callback = function()
          local lsp_data = vim.tbl_get(vim.v.completed_item, 'user_data', 'nvim', 'lsp') or {}
          local item = lsp_data.completion_item
          if vim.v.event.reason ~= 'accept' or lsp_data.client_id ~= client.id or not (item and item.textEdit) then
            return
          end
          local text = item.textEdit.newText
          local rest = text:sub(#(text:match('^(%S*)') or '') + 1)
          if rest == '' then
            return
          end
          local row, col = unpack(vim.api.nvim_win_get_cursor(0))
          local lines = vim.split(rest, '\n', { plain = true })
          vim.api.nvim_buf_set_text(buf, row - 1, col, row - 1, col, lines)
          vim.api.nvim_win_set_cursor(0, { row + #lines - 1, (#lines == 1 and col or 0) + #lines[#lines] })
        end,
      })
    end
    -- codex-ls's code actions (Generate code from comment, Implement function, Edit selection) are
    -- `refactor.rewrite.codexLs.*`; Neovim's own `gra` still lists every server's actions.
    map({ 'n', 'x' }, keys.code_action, function()
      vim.lsp.buf.code_action({ context = { only = { 'refactor.rewrite.codexLs' } } })
    end, buf, 'codex-ls: code actions')
  end,
})
