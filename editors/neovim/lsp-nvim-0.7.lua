-- KFL language server for Neovim 0.7 and later, without nvim-lspconfig.
-- Copy into your init.lua (or save as ~/.config/nvim/plugin/kfl-lsp.lua).
--
-- Starts one `kflc lsp` per project root and attaches every KFL buffer of that root to it.
-- Set `vim.g.kfl_lsp_cmd` before this runs to use another command, e.g.
--   vim.g.kfl_lsp_cmd = { '/path/to/kflc', 'lsp' }

-- `*.kfl` is filetype `kfl` (needed unless editors/neovim/ftdetect is on 'runtimepath').
vim.cmd([[autocmd BufRead,BufNewFile *.kfl setfiletype kfl]])

local kfl_clients = {} -- root directory -> client id

local function kfl_root(bufnr)
  local file = vim.api.nvim_buf_get_name(bufnr)
  local dir = file ~= '' and vim.fn.fnamemodify(file, ':p:h') or vim.fn.getcwd()
  local git = vim.fn.finddir('.git', dir .. ';')
  if git ~= '' then
    return vim.fn.fnamemodify(git, ':p:h:h')
  end
  return dir
end

vim.api.nvim_create_autocmd('FileType', {
  pattern = 'kfl',
  callback = function(args)
    local root = kfl_root(args.buf)
    local id = kfl_clients[root]
    if id == nil or vim.lsp.get_client_by_id(id) == nil then
      id = vim.lsp.start_client({
        name = 'kflc',
        cmd = vim.g.kfl_lsp_cmd or { 'kflc', 'lsp' },
        root_dir = root,
        workspace_folders = { { uri = vim.uri_from_fname(root), name = root } },
      })
      kfl_clients[root] = id
    end
    if id ~= nil then
      vim.lsp.buf_attach_client(args.buf, id)
    end
  end,
})
