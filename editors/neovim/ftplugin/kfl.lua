-- Buffer settings for KFL files (filetype `kfl`).
if vim.b.did_ftplugin then
  return
end
vim.b.did_ftplugin = 1

vim.bo.commentstring = '// %s'
-- `///` doc comments and `//` comments; `gq` and Enter continue them.
vim.bo.comments = ':///,://'
vim.bo.formatoptions = vim.bo.formatoptions:gsub('t', '') .. 'croqj'
vim.bo.expandtab = true
vim.bo.shiftwidth = 4
vim.bo.softtabstop = 4
vim.bo.suffixesadd = '.kfl'

vim.b.undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab< shiftwidth< softtabstop< suffixesadd<'
