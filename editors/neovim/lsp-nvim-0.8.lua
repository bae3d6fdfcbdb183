-- KFL language server for Neovim 0.8 and later, without nvim-lspconfig.
-- Copy into your init.lua (or save as ~/.config/nvim/plugin/kfl-lsp.lua).
--
-- vim.lsp.start() reuses a running client with the same name and root directory, so every KFL
-- buffer of a project shares one `kflc lsp`. Set `vim.g.kfl_lsp_cmd` before this runs to use
-- another command, e.g.  vim.g.kfl_lsp_cmd = { '/path/to/kflc', 'lsp' }

-- `*.kfl` is filetype `kfl` (needed unless editors/neovim/ftdetect is on 'runtimepath').
vim.filetype.add({ extension = { kfl = 'kfl' } })

vim.api.nvim_create_autocmd('FileType', {
  pattern = 'kfl',
  callback = function(args)
    local file = vim.api.nvim_buf_get_name(args.buf)
    local git = vim.fs.find('.git', { upward = true, path = vim.fs.dirname(file) })[1]
    vim.lsp.start({
      name = 'kflc',
      cmd = vim.g.kfl_lsp_cmd or { 'kflc', 'lsp' },
      root_dir = git and vim.fs.dirname(git) or vim.fs.dirname(file),
    }, { bufnr = args.buf })
  end,
})
