//! The KFL extension for Zed: starts the language server as `kflc lsp`, with `kflc` found on the
//! worktree's PATH (install it with `cargo install --path .` from a clone of KFL).

use zed_extension_api::{self as zed, LanguageServerId, Result};

struct KflExtension;

impl zed::Extension for KflExtension {
    fn new() -> Self {
        KflExtension
    }

    fn language_server_command(&mut self, _id: &LanguageServerId, worktree: &zed::Worktree) -> Result<zed::Command> {
        let command = worktree
            .which("kflc")
            .ok_or_else(|| "kflc is not on PATH: run `cargo install --path .` in a clone of KFL".to_string())?;
        Ok(zed::Command { command, args: vec!["lsp".to_string()], env: Vec::new() })
    }
}

zed::register_extension!(KflExtension);
