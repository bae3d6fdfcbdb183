//! `kfl-lsp`: the KFL language server on stdio (the same as `kflc lsp`).

fn main() -> std::process::ExitCode {
    match kfl_lsp::run_stdio() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("kfl-lsp: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}
