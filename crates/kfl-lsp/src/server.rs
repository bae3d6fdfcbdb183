//! The LSP handlers: edits applied in order under the state lock, queries on snapshots in blocking
//! tasks, diagnostics published after every change.

use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::Value;
use tower_lsp_server::jsonrpc::{Error, ErrorCode, Result};
use tower_lsp_server::ls_types::*;
use tower_lsp_server::{Client, LanguageServer};

use crate::convert::{diagnostic, path_of_uri, ClientSupport};
use crate::features::{self, Ctx};
use crate::state::{Snapshot, State};

/// Per document: the version and diagnostics last sent.
type Published = HashMap<Uri, (i32, Vec<Diagnostic>)>;

pub struct Backend {
    client: Client,
    state: Arc<Mutex<State>>,
    /// Bumped by every change to the world; diagnostics computed for an older one are dropped.
    generation: Arc<AtomicU64>,
    /// The version and diagnostics last sent for each document; the lock orders the sends.
    published: Arc<tokio::sync::Mutex<Published>>,
    test_hooks: bool,
}

impl Backend {
    pub fn new(client: Client) -> Backend {
        Backend {
            client,
            state: Arc::new(Mutex::new(State::default())),
            generation: Arc::new(AtomicU64::new(0)),
            published: Arc::new(tokio::sync::Mutex::new(HashMap::new())),
            test_hooks: std::env::var_os("KFL_LSP_TEST_HOOKS").is_some_and(|v| v == "1"),
        }
    }

    /// The state, even if a panic poisoned the lock (the state is only data; a panic while it is
    /// held cannot leave a half-applied edit behind, since every write is one salsa input set).
    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    fn snapshot(&self) -> Snapshot {
        self.state().snapshot()
    }

    /// Runs `f` on a snapshot in a blocking task. A newer edit cancels it (`ContentModified`); a
    /// panic becomes an internal error response.
    async fn query<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Snapshot) -> T + Send + 'static,
    {
        run_on_snapshot(self.snapshot(), f).await
    }

    /// Runs `f` with the document's context; `None` if the server does not know the document.
    async fn on_file<T, F>(&self, uri: &Uri, f: F) -> Result<Option<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Ctx<'_>) -> Option<T> + Send + 'static,
    {
        let path = path_of_uri(uri);
        self.query(move |snapshot| {
            let file = snapshot.db.file(&path)?;
            let ctx = Ctx::new(&snapshot.db, file, &snapshot.uris, snapshot.support);
            f(&ctx)
        })
        .await
    }

    /// Checks the open documents on a snapshot and publishes their diagnostics, `first` first (it is
    /// always sent; the others only when they changed).
    fn publish_diagnostics(&self, first: Option<Arc<str>>) {
        let (snapshot, documents) = {
            let state = self.state();
            (state.snapshot(), state.open_documents(first.as_deref()))
        };
        let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
        let current = self.generation.clone();
        let published = self.published.clone();
        let client = self.client.clone();
        let current_in_worker = self.generation.clone();
        tokio::spawn(async move {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            let worker = tokio::task::spawn_blocking(move || {
                for (path, uri, version) in documents {
                    if current_in_worker.load(Ordering::SeqCst) != generation {
                        break;
                    }
                    let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| {
                        let file = snapshot.db.file(&path)?;
                        let diagnostics = kfl_check::check_file(&snapshot.db, file);
                        Some(
                            diagnostics
                                .iter()
                                .map(|d| diagnostic(&snapshot.db, file, d, &snapshot.uris, snapshot.support))
                                .collect::<Vec<_>>(),
                        )
                    }));
                    match outcome {
                        Ok(Some(diagnostics)) => {
                            if tx.send((uri, version, diagnostics)).is_err() {
                                break;
                            }
                        }
                        Ok(None) => {}
                        Err(payload) if payload.is::<salsa::Cancelled>() => break,
                        Err(payload) => eprintln!("kfl-lsp: checking {path} panicked: {}", panic_message(&*payload)),
                    }
                }
                drop(snapshot);
            });
            let mut is_first = first.is_some();
            while let Some((uri, version, diagnostics)) = rx.recv().await {
                let mut published = published.lock().await;
                if current.load(Ordering::SeqCst) != generation {
                    // A newer change publishes its own.
                    break;
                }
                // The edited document always; the others when their version or diagnostics changed.
                let unchanged = published.get(&uri).is_some_and(|(v, d)| *v == version && *d == diagnostics);
                if !unchanged || is_first {
                    client.publish_diagnostics(uri.clone(), diagnostics.clone(), Some(version)).await;
                    published.insert(uri, (version, diagnostics));
                }
                is_first = false;
            }
            let _ = worker.await;
        });
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_string()
    }
}

async fn run_on_snapshot<T, F>(snapshot: Snapshot, f: F) -> Result<T>
where
    T: Send + 'static,
    F: FnOnce(&Snapshot) -> T + Send + 'static,
{
    let task = tokio::task::spawn_blocking(move || {
        let outcome = std::panic::catch_unwind(AssertUnwindSafe(|| f(&snapshot)));
        // The snapshot goes before the response is sent, so the next edit is not held up.
        drop(snapshot);
        outcome
    });
    match task.await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(payload)) => match payload.downcast_ref::<salsa::Cancelled>() {
            Some(salsa::Cancelled::PropagatedPanic) => Err(internal("a query this request waited on panicked")),
            Some(_) => Err(Error::content_modified()),
            None => Err(internal(&format!("the request failed: {}", panic_message(&*payload)))),
        },
        Err(join_error) => Err(internal(&format!("the request did not finish: {join_error}"))),
    }
}

fn internal(message: &str) -> Error {
    Error { code: ErrorCode::InternalError, message: message.to_string().into(), data: None }
}

fn client_support(caps: &ClientCapabilities) -> ClientSupport {
    let text = caps.text_document.as_ref();
    ClientSupport {
        related_information: text
            .and_then(|t| t.publish_diagnostics.as_ref())
            .and_then(|p| p.related_information)
            .unwrap_or(false),
        diagnostic_tags: text.and_then(|t| t.publish_diagnostics.as_ref()).is_some_and(|p| p.tag_support.is_some()),
        snippets: text
            .and_then(|t| t.completion.as_ref())
            .and_then(|c| c.completion_item.as_ref())
            .and_then(|c| c.snippet_support)
            .unwrap_or(false),
        markdown_hover: text
            .and_then(|t| t.hover.as_ref())
            .and_then(|h| h.content_format.as_ref())
            .is_none_or(|formats| formats.contains(&MarkupKind::Markdown)),
        markdown_docs: text
            .and_then(|t| t.completion.as_ref())
            .and_then(|c| c.completion_item.as_ref())
            .and_then(|c| c.documentation_format.as_ref())
            .is_some_and(|formats| formats.contains(&MarkupKind::Markdown)),
        hierarchical_symbols: text
            .and_then(|t| t.document_symbol.as_ref())
            .and_then(|d| d.hierarchical_document_symbol_support)
            .unwrap_or(false),
    }
}

fn capabilities() -> ServerCapabilities {
    ServerCapabilities {
        position_encoding: Some(PositionEncodingKind::UTF16),
        text_document_sync: Some(TextDocumentSyncCapability::Options(TextDocumentSyncOptions {
            open_close: Some(true),
            change: Some(TextDocumentSyncKind::INCREMENTAL),
            will_save: None,
            will_save_wait_until: None,
            save: Some(TextDocumentSyncSaveOptions::Supported(true)),
        })),
        completion_provider: Some(CompletionOptions {
            trigger_characters: Some([".", ":", "(", ",", "\"", "/"].iter().map(|s| s.to_string()).collect()),
            ..CompletionOptions::default()
        }),
        hover_provider: Some(HoverProviderCapability::Simple(true)),
        signature_help_provider: Some(SignatureHelpOptions {
            trigger_characters: Some(vec!["(".to_string(), ",".to_string()]),
            retrigger_characters: Some(vec![":".to_string()]),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        }),
        definition_provider: Some(OneOf::Left(true)),
        references_provider: Some(OneOf::Left(true)),
        document_highlight_provider: Some(OneOf::Left(true)),
        document_symbol_provider: Some(OneOf::Left(true)),
        workspace_symbol_provider: Some(OneOf::Left(true)),
        code_action_provider: Some(CodeActionProviderCapability::Options(CodeActionOptions {
            code_action_kinds: Some(vec![CodeActionKind::QUICKFIX]),
            ..CodeActionOptions::default()
        })),
        document_formatting_provider: Some(OneOf::Left(true)),
        rename_provider: Some(OneOf::Right(RenameOptions {
            prepare_provider: Some(true),
            work_done_progress_options: WorkDoneProgressOptions::default(),
        })),
        folding_range_provider: Some(FoldingRangeProviderCapability::Simple(true)),
        semantic_tokens_provider: Some(SemanticTokensServerCapabilities::SemanticTokensOptions(
            SemanticTokensOptions {
                work_done_progress_options: WorkDoneProgressOptions::default(),
                legend: features::semantic_tokens::legend(),
                range: Some(false),
                full: Some(SemanticTokensFullOptions::Bool(true)),
            },
        )),
        inlay_hint_provider: Some(OneOf::Left(true)),
        workspace: Some(WorkspaceServerCapabilities {
            workspace_folders: Some(WorkspaceFoldersServerCapabilities {
                supported: Some(true),
                change_notifications: Some(OneOf::Left(true)),
            }),
            file_operations: None,
        }),
        ..ServerCapabilities::default()
    }
}

fn uri_paths(folders: &[WorkspaceFolder]) -> Vec<std::path::PathBuf> {
    folders.iter().filter_map(|f| f.uri.to_file_path().map(|p| p.into_owned())).collect()
}

impl LanguageServer for Backend {
    async fn initialize(&self, params: InitializeParams) -> Result<InitializeResult> {
        let mut state = self.state();
        state.support = client_support(&params.capabilities);
        let mut roots = params.workspace_folders.as_deref().map(uri_paths).unwrap_or_default();
        #[allow(deprecated)] // Clients without workspace folders still send a root URI.
        if roots.is_empty() {
            roots.extend(params.root_uri.as_ref().and_then(|u| u.to_file_path().map(|p| p.into_owned())));
        }
        state.roots = roots;
        Ok(InitializeResult {
            capabilities: capabilities(),
            server_info: Some(ServerInfo {
                name: "kfl-lsp".to_string(),
                version: Some(env!("CARGO_PKG_VERSION").to_string()),
            }),
            offset_encoding: None,
        })
    }

    async fn initialized(&self, _: InitializedParams) {
        let state = self.state.clone();
        // Reading the workspace is file IO: off the async threads.
        let loaded = tokio::task::spawn_blocking(move || {
            let mut state = lock(&state);
            state.load_workspace();
            state.db.files().len()
        })
        .await;
        if let Ok(count) = loaded {
            self.client.log_message(MessageType::INFO, format!("kfl-lsp: {count} .kfl files in the workspace")).await;
        }
        self.publish_diagnostics(None);
    }

    async fn shutdown(&self) -> Result<()> {
        Ok(())
    }

    // ---------------------------------------------------------------------------------------------
    // Documents: each change is applied before the handler's first `.await`.

    async fn did_open(&self, params: DidOpenTextDocumentParams) {
        let doc = params.text_document;
        let path = self.state().did_open(doc.uri, doc.version, doc.text);
        self.publish_diagnostics(Some(path));
    }

    async fn did_change(&self, params: DidChangeTextDocumentParams) {
        let doc = params.text_document;
        let path = self.state().did_change(&doc.uri, doc.version, params.content_changes);
        if let Some(path) = path {
            self.publish_diagnostics(Some(path));
        }
    }

    async fn did_save(&self, _: DidSaveTextDocumentParams) {
        self.state().forget_missing();
    }

    async fn did_close(&self, params: DidCloseTextDocumentParams) {
        let closed = self.state().did_close(&params.text_document.uri);
        if closed.is_some() {
            self.publish_diagnostics(None);
        }
        let uri = params.text_document.uri;
        let mut published = self.published.lock().await;
        published.remove(&uri);
        self.client.publish_diagnostics(uri, Vec::new(), None).await;
    }

    async fn did_change_watched_files(&self, params: DidChangeWatchedFilesParams) {
        {
            let mut state = self.state();
            for change in &params.changes {
                state.file_changed_on_disk(&change.uri, change.typ == FileChangeType::DELETED);
            }
        }
        self.publish_diagnostics(None);
    }

    async fn did_change_workspace_folders(&self, params: DidChangeWorkspaceFoldersParams) {
        {
            let mut state = self.state();
            let removed = uri_paths(&params.event.removed);
            state.roots.retain(|r| !removed.contains(r));
            state.roots.extend(uri_paths(&params.event.added));
        }
        let state = self.state.clone();
        let _ = tokio::task::spawn_blocking(move || lock(&state).load_workspace()).await;
        self.publish_diagnostics(None);
    }

    // ---------------------------------------------------------------------------------------------
    // Queries: each on a snapshot, off the async threads.

    async fn hover(&self, params: HoverParams) -> Result<Option<Hover>> {
        let p = params.text_document_position_params;
        self.on_file(&p.text_document.uri, move |ctx| features::hover::hover(ctx, ctx.lines.offset(p.position))).await
    }

    async fn goto_definition(&self, params: GotoDefinitionParams) -> Result<Option<GotoDefinitionResponse>> {
        let p = params.text_document_position_params;
        self.on_file(&p.text_document.uri, move |ctx| {
            features::navigation::definition(ctx, ctx.lines.offset(p.position)).map(GotoDefinitionResponse::Scalar)
        })
        .await
    }

    async fn references(&self, params: ReferenceParams) -> Result<Option<Vec<Location>>> {
        let p = params.text_document_position;
        let include = params.context.include_declaration;
        self.on_file(&p.text_document.uri, move |ctx| {
            features::navigation::find_references(ctx, ctx.lines.offset(p.position), include)
        })
        .await
    }

    async fn document_highlight(&self, params: DocumentHighlightParams) -> Result<Option<Vec<DocumentHighlight>>> {
        let p = params.text_document_position_params;
        self.on_file(&p.text_document.uri, move |ctx| {
            features::navigation::highlights(ctx, ctx.lines.offset(p.position))
        })
        .await
    }

    async fn prepare_rename(&self, params: TextDocumentPositionParams) -> Result<Option<PrepareRenameResponse>> {
        self.on_file(&params.text_document.uri, move |ctx| {
            features::navigation::prepare_rename(ctx, ctx.lines.offset(params.position)).ok()
        })
        .await
    }

    async fn rename(&self, params: RenameParams) -> Result<Option<WorkspaceEdit>> {
        let p = params.text_document_position;
        let new_name = params.new_name;
        let result = self
            .on_file(&p.text_document.uri, move |ctx| {
                Some(features::navigation::rename(ctx, ctx.lines.offset(p.position), &new_name))
            })
            .await?;
        match result {
            None => Ok(None),
            Some(Ok(edit)) => Ok(Some(edit)),
            Some(Err(message)) => Err(Error::invalid_params(message)),
        }
    }

    async fn completion(&self, params: CompletionParams) -> Result<Option<CompletionResponse>> {
        let p = params.text_document_position;
        self.on_file(&p.text_document.uri, move |ctx| {
            let items = features::completion::completion(ctx, ctx.lines.offset(p.position));
            Some(CompletionResponse::List(CompletionList { is_incomplete: false, items }))
        })
        .await
    }

    async fn signature_help(&self, params: SignatureHelpParams) -> Result<Option<SignatureHelp>> {
        let p = params.text_document_position_params;
        self.on_file(&p.text_document.uri, move |ctx| {
            features::signature_help::signature_help(ctx, ctx.lines.offset(p.position))
        })
        .await
    }

    async fn formatting(&self, params: DocumentFormattingParams) -> Result<Option<Vec<TextEdit>>> {
        let result = self.on_file(&params.text_document.uri, |ctx| Some(features::formatting(ctx))).await?;
        match result {
            None => Ok(None),
            Some(Ok(edits)) => Ok(edits),
            Some(Err(message)) => Err(internal(&message)),
        }
    }

    async fn document_symbol(&self, params: DocumentSymbolParams) -> Result<Option<DocumentSymbolResponse>> {
        self.on_file(&params.text_document.uri, |ctx| Some(features::symbols::document_symbols(ctx))).await
    }

    async fn symbol(&self, params: WorkspaceSymbolParams) -> Result<Option<WorkspaceSymbolResponse>> {
        let query = params.query;
        self.query(move |snapshot| {
            let symbols = features::symbols::workspace_symbols(&snapshot.db, &snapshot.uris, &query);
            Some(WorkspaceSymbolResponse::Nested(symbols))
        })
        .await
    }

    async fn semantic_tokens_full(&self, params: SemanticTokensParams) -> Result<Option<SemanticTokensResult>> {
        self.on_file(&params.text_document.uri, |ctx| {
            let data = features::semantic_tokens::semantic_tokens(ctx);
            Some(SemanticTokensResult::Tokens(SemanticTokens { result_id: None, data }))
        })
        .await
    }

    async fn inlay_hint(&self, params: InlayHintParams) -> Result<Option<Vec<InlayHint>>> {
        let range = params.range;
        self.on_file(&params.text_document.uri, move |ctx| {
            Some(features::inlay_hints::inlay_hints(ctx, ctx.lines.span(range)))
        })
        .await
    }

    async fn code_action(&self, params: CodeActionParams) -> Result<Option<CodeActionResponse>> {
        let range = params.range;
        self.on_file(&params.text_document.uri, move |ctx| {
            Some(features::code_actions::code_actions(ctx, ctx.lines.span(range)))
        })
        .await
    }

    async fn folding_range(&self, params: FoldingRangeParams) -> Result<Option<Vec<FoldingRange>>> {
        self.on_file(&params.text_document.uri, |ctx| Some(features::folding::folding_ranges(ctx))).await
    }
}

impl Backend {
    /// `kfl/testHook` (only with `KFL_LSP_TEST_HOOKS=1`): `{"panic": true}` panics inside a query;
    /// `{"spinMs": n}` runs a query for up to `n` ms that a newer edit cancels. The end-to-end tests
    /// use it to check that a panic is contained and that a stale request is cancelled.
    pub async fn test_hook(&self, params: Value) -> Result<Value> {
        if !self.test_hooks {
            return Err(Error::method_not_found());
        }
        let panic = params.get("panic").and_then(Value::as_bool).unwrap_or(false);
        let spin = params.get("spinMs").and_then(Value::as_u64).unwrap_or(0).min(10_000);
        self.query(move |snapshot| {
            if panic {
                #[allow(clippy::panic)]
                {
                    panic!("test hook: a panic inside a request");
                }
            }
            let start = std::time::Instant::now();
            while start.elapsed().as_millis() < u128::from(spin) {
                salsa::Database::unwind_if_revision_cancelled(&snapshot.db);
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            Value::from("done")
        })
        .await
    }
}
