" KFL pipeline files. Works on every Neovim (and Vim) version.
autocmd BufRead,BufNewFile *.kfl setfiletype kfl
