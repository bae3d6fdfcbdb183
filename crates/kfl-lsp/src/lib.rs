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
//! - What the editor says about a pipeline or a component — types, outputs, arguments, settings —
//!   is read from the checker's model ([`lookup`] over `kfl_check::model::file_model`), the one
//!   `kflc build` lowers; the editor keeps no typing rules or field lists of its own (field docs
//!   and the settings allowed in a place come from `kfl_model::fields::FIELDS`).
//! - Names the model does not hold (artifact types, imports, script mentions) and the
//!   project-wide occurrences that references, rename and semantic tokens need come from the
//!   syntax tree ([`index`]); where an item does not parse, from tokens ([`context`]): completion
//!   and signature help must work while an item is half typed.

pub mod context;
pub mod convert;
pub mod features;
pub mod index;
pub mod lexer;
pub mod lookup;
pub mod server;
pub mod state;
pub mod transport;

use tower_lsp_server::{LspService, Server};

/// How many requests and notifications are handled at once. Each query runs in its own blocking
/// task, so this bounds the work an editor can queue, not the threads.
const CONCURRENCY: usize = 32;

/// Stack of every thread of the runtime. Checking a pipeline of ~50,000 lines overflowed the
/// default 2 MiB (the CLI's main thread has 8 MiB) and aborted the server; this leaves room for
/// files far larger than that.
const STACK_BYTES: usize = 64 << 20;

/// Buffer between the framing tasks and tower-lsp-server, in bytes.
const PIPE_BYTES: usize = 1 << 20;

/// Serves LSP on stdin and stdout until the client says `exit`. Builds its own tokio runtime.
pub fn run_stdio() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_stack_size(STACK_BYTES)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let (service, socket) =
            LspService::build(server::Backend::new).custom_method("kfl/testHook", server::Backend::test_hook).finish();
        // tower-lsp-server reads and writes through in-memory pipes; the framing tasks between them
        // and stdio answer malformed input instead of letting it end the session.
        let (server_input, input_pipe) = tokio::io::duplex(PIPE_BYTES);
        let (server_output, output_pipe) = tokio::io::duplex(PIPE_BYTES);
        let (errors_tx, errors_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(transport::forward_input(tokio::io::stdin(), input_pipe, errors_tx));
        let writer = tokio::spawn(transport::forward_output(output_pipe, errors_rx, tokio::io::stdout()));
        Server::new(server_input, server_output, socket).concurrency_level(CONCURRENCY).serve(service).await;
        // Everything the server wrote reaches the client before the process ends.
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), writer).await;
    });
    // Blocking tasks still running (a query whose request was abandoned) are not waited for.
    runtime.shutdown_background();
    Ok(())
}
