-- Headless Neovim (0.7.2) smoke test of the KFL language server, run by tests/lsp/run.sh:
--   KFL_LSP_CMD="…" KFL_NVIM_ROOT=<copy of tests/lsp/workspace> nvim --headless --clean -c "luafile nvim_smoke.lua"
-- It starts the server with vim.lsp.start_client, attaches it with vim.lsp.buf_attach_client (0.7
-- has no vim.lsp.start), edits the buffer so Neovim sends incremental changes, and checks that
-- diagnostics arrive at the right UTF-16 column and that completion returns a task's outputs.
-- It prints one line, "PASS: …" or "FAIL: …", and exits non-zero on failure.

local function finish(ok, message)
  io.stdout:write((ok and "PASS: " or "FAIL: ") .. message .. "\n")
  io.stdout:flush()
  if ok then
    vim.cmd("qall!")
  else
    vim.cmd("cquit 1")
  end
end

local function run()
  local cmd = vim.split(os.getenv("KFL_LSP_CMD") or "", " ", { trimempty = true })
  local root = os.getenv("KFL_NVIM_ROOT")
  if #cmd == 0 or not root then
    return finish(false, "KFL_LSP_CMD and KFL_NVIM_ROOT must be set")
  end

  local published = {}
  local client_id = vim.lsp.start_client({
    name = "kfl",
    cmd = cmd,
    root_dir = root,
    handlers = {
      ["textDocument/publishDiagnostics"] = function(err, result, ctx, config)
        published[#published + 1] = result
        return vim.lsp.handlers["textDocument/publishDiagnostics"](err, result, ctx, config)
      end,
    },
  })
  if not client_id then
    return finish(false, "vim.lsp.start_client failed")
  end

  vim.cmd("edit " .. vim.fn.fnameescape(root .. "/main.kfl"))
  local buf = vim.api.nvim_get_current_buf()
  vim.lsp.buf_attach_client(buf, client_id)
  local uri = vim.uri_from_bufnr(buf)

  local function wait_for(what, predicate)
    if not vim.wait(15000, predicate, 20) then
      finish(false, "timed out waiting for " .. what)
      return false
    end
    return true
  end

  -- The clean file: diagnostics arrive, and there are none.
  if not wait_for("the first diagnostics", function()
    for _, p in ipairs(published) do
      if p.uri == uri then
        return true
      end
    end
    return false
  end) then
    return
  end

  -- An edit with non-ASCII before the mistake on the same line: `d.raw_dta` is no output.
  local lines = vim.api.nvim_buf_get_lines(buf, 0, -1, false)
  local row
  for i, line in ipairs(lines) do
    if line:find("download_csv(url: url)", 1, true) then
      row = i
    end
  end
  if not row then
    return finish(false, "main.kfl does not look as expected")
  end
  local new_line = '    d = download_csv(url: "é𝄞😀") e = clean_data(raw_data: d.raw_dta)'
  vim.api.nvim_buf_set_lines(buf, row, row, false, { new_line })
  local byte_col = new_line:find("raw_dta", 1, true) - 1
  local _, utf16_col = vim.str_utfindex(new_line, byte_col)
  local found
  if not wait_for("diagnostic E0103 after the edit", function()
    for _, p in ipairs(published) do
      if p.uri == uri then
        for _, d in ipairs(p.diagnostics) do
          if d.code == "E0103" then
            found = d
            return true
          end
        end
      end
    end
    return false
  end) then
    return
  end
  if found.range.start.line ~= row or found.range.start.character ~= utf16_col then
    return finish(false, string.format("E0103 at %d:%d, expected %d:%d (UTF-16)",
      found.range.start.line, found.range.start.character, row, utf16_col))
  end

  -- Completion after `trained.` (the item does not parse while it is being typed).
  local count = vim.api.nvim_buf_line_count(buf)
  vim.api.nvim_buf_set_lines(buf, count - 1, count - 1, false, { "    output acc = trained." })
  local line = count - 1
  local character = #"    output acc = trained."
  local params = { textDocument = { uri = uri }, position = { line = line, character = character } }
  local client = vim.lsp.get_client_by_id(client_id)
  local response = client.request_sync("textDocument/completion", params, 10000, buf)
  if not response or response.err then
    return finish(false, "completion failed: " .. vim.inspect(response))
  end
  local result = response.result or {}
  local items = result.items or result
  local labels = {}
  for _, item in ipairs(items) do
    labels[#labels + 1] = item.label
  end
  table.sort(labels)
  if table.concat(labels, ",") ~= "accuracy,checkpoint" then
    return finish(false, "completion after `trained.` returned " .. vim.inspect(labels))
  end

  client.stop()
  finish(true, string.format(
    "Neovim %s: diagnostics arrived (E0103 at UTF-16 column %d), completion returned %d items (%s)",
    tostring(vim.version().major) .. "." .. tostring(vim.version().minor) .. "." .. tostring(vim.version().patch),
    utf16_col, #labels, table.concat(labels, ", ")))
end

local ok, err = pcall(run)
if not ok then
  finish(false, "error: " .. tostring(err))
end
