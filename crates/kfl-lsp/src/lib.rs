//! The KFL language server: LSP over stdio on the same salsa database as `kflc check`.
//!
//! Invariants:
//! - LSP types live only in this crate. The checker, the parser and the formatter know nothing of
//!   editors; this crate converts their byte spans to UTF-16 positions and back ([`convert`]), and
//!   their [`kfl_diagnostics::Diagnostic`]s to LSP ones (same code, same message).
//! - Edits are applied in the order the client sent them: a `didChange` sets the salsa input before
//!   the handler's first `.await`, under the state lock. Nothing else writes the database.
//! - Queries never run on the async threads and never on the database itself: each takes a
//!   [`state::Snapshot`] (a clone of the database) into a blocking task and drops it there. A setter
//!   waits for every clone to go, and salsa unwinds the clones' queries with `Cancelled`, so an edit
//!   is never held up by a slow request; such a request answers `ContentModified`.
//! - No lock is held across an `.await`, and no request holds a snapshot while it waits on anything.
//! - No input and no order of requests crashes or hangs the server: every query runs inside
//!   `catch_unwind`, and a panic becomes an error response to that one request (or, while
//!   publishing diagnostics, a line on stderr). Client-controlled data is never unwrapped: positions
//!   past the end are clamped, unknown documents answer `null`.
//! - Files the editor has not opened but that are imported, or that lie in a workspace folder, are
//!   read from disk so that cross-file features see the whole project; an open document's text is
//!   always the editor's, never the disk's.
//! - The features work from the syntax tree where the item parses ([`index`]) and from tokens where
//!   it may not ([`context`]): completion and signature help must work while an item is half typed.

pub mod context;
pub mod convert;
pub mod features;
pub mod index;
pub mod lexer;
pub mod server;
pub mod state;

use tower_lsp_server::{LspService, Server};

/// How many requests and notifications are handled at once. Each query runs in its own blocking
/// task, so this bounds the work an editor can queue, not the threads.
const CONCURRENCY: usize = 32;

/// Serves LSP on stdin and stdout until the client says `exit`. Builds its own tokio runtime.
pub fn run_stdio() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        let (service, socket) =
            LspService::build(server::Backend::new).custom_method("kfl/testHook", server::Backend::test_hook).finish();
        Server::new(tokio::io::stdin(), tokio::io::stdout(), socket)
            .concurrency_level(CONCURRENCY)
            .serve(service)
            .await;
    });
    // Blocking tasks still running (a query whose request was abandoned) are not waited for.
    runtime.shutdown_background();
    Ok(())
}
