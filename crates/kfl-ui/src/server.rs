//! The HTTP side: routes over [`crate::records`], [`crate::preview`] and [`crate::paths`], the
//! embedded assets, live updates as server-sent events, and the headers every answer carries
//! (content-security policy, no sniffing, no framing; no CORS header is ever sent). File bodies
//! are streamed in chunks; every file access goes through [`crate::paths::resolve`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::Stream;

use crate::{paths, preview, records};

/// The app's policy: its own scripts and styles only, no inline script, frames only from itself
/// (sandboxed HTML artifacts), never framed by another site.
pub const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
    connect-src 'self'; frame-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
/// Files from runs: a sandbox (an opaque origin, no scripts, no forms), shown only inside the app.
pub const FILE_CSP: &str =
    "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; frame-ancestors 'self'";

/// Log windows are at most this large.
const LOG_CAP: u64 = 1024 * 1024;
const LOG_DEFAULT: u64 = 256 * 1024;

#[derive(Clone)]
pub struct AppState {
    /// `<root>/runs`.
    pub runs: Arc<PathBuf>,
    /// The `Host` values accepted (loopback serving refuses other names: DNS rebinding). Empty:
    /// any (the user widened `--host`).
    pub hosts: Arc<Vec<String>>,
    /// How often a live run is looked at.
    pub tick: Duration,
    /// The token a state-changing request must carry (`x-kfl-token`), made at start; the app
    /// reads it from `/api/session`, which no other origin can read (no CORS).
    pub token: Arc<String>,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/app.js", get(|| asset(include_str!("assets/app.js"), "text/javascript; charset=utf-8")))
        .route("/app.css", get(|| asset(include_str!("assets/app.css"), "text/css; charset=utf-8")))
        .route("/api/runs", get(runs))
        .route("/api/runs/{run}", get(run))
        .route("/api/compare", get(compare))
        .route("/api/runs/{run}/events", get(events))
        .route("/api/runs/{run}/instances/{folder}", get(instance))
        .route("/api/runs/{run}/lineage/{folder}", get(lineage))
        .route("/api/session", get(session))
        .route("/api/runs/{run}/cancel", post(cancel))
        .route("/api/runs/{run}/log/{folder}/{stream}", get(log))
        .route("/api/runs/{run}/preview/{*path}", get(preview_file))
        .route("/api/runs/{run}/files/{*path}", get(file))
        .fallback(|| async { not_found() })
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

fn not_found() -> Response {
    (StatusCode::NOT_FOUND, "not found\n").into_response()
}

/// Refuses unknown `Host` names and anything but GET and HEAD; adds the security headers.
async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if !state.hosts.is_empty() {
        let host = request.headers().get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
        if !state.hosts.iter().any(|h| h == host) {
            return (StatusCode::MISDIRECTED_REQUEST, "unknown host\n").into_response();
        }
    }
    match request.method().as_str() {
        "GET" | "HEAD" => {}
        // State changes: the token, and (when the browser says) the page's own origin.
        "POST" => {
            let headers = request.headers();
            let token = headers.get("x-kfl-token").and_then(|t| t.to_str().ok());
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
            let same_origin = headers
                .get(header::ORIGIN)
                .and_then(|o| o.to_str().ok())
                .is_none_or(|origin| origin.strip_prefix("http://") == Some(host));
            if token != Some(state.token.as_str()) || !same_origin {
                return (StatusCode::FORBIDDEN, "a state change needs the app's token and origin\n").into_response();
            }
        }
        _ => return (StatusCode::METHOD_NOT_ALLOWED, "read-only\n").into_response(),
    }
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(APP_CSP));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("cross-origin-resource-policy", HeaderValue::from_static("same-origin"));
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}

async fn index() -> Response {
    asset(include_str!("assets/index.html"), "text/html; charset=utf-8").await
}

async fn asset(body: &'static str, kind: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind)], body).into_response()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    tokio::task::spawn_blocking(f).await.ok()
}

async fn runs(State(state): State<AppState>) -> Response {
    let runs = Arc::clone(&state.runs);
    match blocking(move || records::list_runs(&runs)).await {
        Some(list) => Json(list).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// The run's folder, or `None` for anything that is not a plain run id inside the root.
fn run_dir(state: &AppState, run: &str) -> Option<PathBuf> {
    paths::resolve(&state.runs, run, "").ok()
}

async fn run(State(state): State<AppState>, UrlPath(run): UrlPath<String>) -> Response {
    if run_dir(&state, &run).is_none() {
        return not_found();
    }
    let runs = Arc::clone(&state.runs);
    match blocking(move || records::run_view(&runs, &run)).await.flatten() {
        Some(view) => Json(view).into_response(),
        None => not_found(),
    }
}

#[derive(serde::Deserialize)]
struct CompareQuery {
    /// Run ids, comma-separated.
    runs: String,
}

/// At most this many runs side by side.
const COMPARE_CAP: usize = 20;

async fn compare(State(state): State<AppState>, Query(query): Query<CompareQuery>) -> Response {
    let ids: Vec<String> =
        query.runs.split(',').filter(|s| !s.is_empty()).take(COMPARE_CAP).map(str::to_string).collect();
    let runs = Arc::clone(&state.runs);
    match blocking(move || records::compare(&runs, &ids.iter().map(String::as_str).collect::<Vec<_>>())).await {
        Some(list) => Json(list).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

async fn instance(State(state): State<AppState>, UrlPath((run, folder)): UrlPath<(String, String)>) -> Response {
    let Some(dir) = run_dir(&state, &run) else { return not_found() };
    if paths::resolve(&state.runs, &run, &folder).is_err() {
        return not_found();
    }
    match blocking(move || records::instance_detail(&dir, &folder)).await.flatten() {
        Some(detail) => Json(detail).into_response(),
        None => not_found(),
    }
}

/// The token for state-changing requests; same-origin scripts only can read it.
async fn session(State(state): State<AppState>) -> Response {
    Json(serde_json::json!({ "token": state.token.as_str() })).into_response()
}

/// Cancels a running run: SIGTERM to the `kflc run` holding its lock ([`crate::cancel`]).
async fn cancel(State(state): State<AppState>, UrlPath(run): UrlPath<String>) -> Response {
    let Some(dir) = run_dir(&state, &run) else { return not_found() };
    match blocking(move || crate::cancel::cancel_run(&dir)).await {
        Some(Ok(pid)) => Json(serde_json::json!({ "signalled": pid })).into_response(),
        Some(Err(reason)) => (StatusCode::CONFLICT, reason).into_response(),
        None => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A fresh random token (128 bits from the kernel), as hex.
fn new_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// An instance's lineage across runs (same cache key), asked for after its panel is drawn: it
/// reads other runs' manifests.
async fn lineage(State(state): State<AppState>, UrlPath((run, folder)): UrlPath<(String, String)>) -> Response {
    if run_dir(&state, &run).is_none() || paths::resolve(&state.runs, &run, &folder).is_err() {
        return not_found();
    }
    let runs = Arc::clone(&state.runs);
    match blocking(move || records::cross_lineage(&runs, &run, &folder)).await.flatten() {
        Some(lineage) => Json(lineage).into_response(),
        None => not_found(),
    }
}

#[derive(serde::Deserialize)]
struct Window {
    offset: Option<u64>,
    limit: Option<u64>,
}

#[derive(serde::Serialize)]
struct LogWindow {
    text: String,
    start: u64,
    size: u64,
}

async fn log(
    State(state): State<AppState>,
    UrlPath((run, folder, stream)): UrlPath<(String, String, String)>,
    Query(window): Query<Window>,
) -> Response {
    let file = match stream.as_str() {
        "stdout" => "stdout.log",
        "stderr" => "stderr.log",
        _ => return not_found(),
    };
    if paths::resolve(&state.runs, &run, &folder).is_err() {
        return not_found();
    }
    let path = match paths::resolve(&state.runs, &run, &format!("{folder}/{file}")) {
        Ok(path) => path,
        // No log yet (the task has not written to it): an empty window.
        Err(paths::Refused::Missing) => {
            return Json(LogWindow { text: String::new(), start: 0, size: 0 }).into_response()
        }
        Err(_) => return not_found(),
    };
    let limit = window.limit.unwrap_or(LOG_DEFAULT).min(LOG_CAP);
    match blocking(move || preview::read_window(&path, window.offset, limit)).await {
        Some(Ok((text, start, size))) => Json(LogWindow { text, start, size }).into_response(),
        _ => not_found(),
    }
}

async fn preview_file(State(state): State<AppState>, UrlPath((run, path)): UrlPath<(String, String)>) -> Response {
    let real = match paths::resolve(&state.runs, &run, &path) {
        Ok(real) if real.is_file() => real,
        _ => return not_found(),
    };
    let name = path.rsplit('/').next().unwrap_or("").to_string();
    let result = blocking(move || {
        preview::read_head(&real, preview::PREVIEW_CAP).map(|(head, size)| {
            #[cfg(feature = "parquet")]
            if crate::parquet_preview::looks_like_parquet(&head) {
                return (crate::parquet_preview::parquet_table(&real), size);
            }
            (preview::preview(&name, &head, size), size)
        })
    })
    .await;
    match result {
        Some(Ok((preview, size))) => Json(serde_json::json!({ "preview": preview, "size": size })).into_response(),
        _ => not_found(),
    }
}

fn content_type(name: &str) -> &'static str {
    let lower = name.to_ascii_lowercase();
    match lower.rsplit_once('.').map_or("", |(_, e)| e) {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "html" | "htm" => "text/html; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "json" => "application/json",
        "txt" | "log" | "md" | "tsv" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[derive(serde::Deserialize)]
struct FileQuery {
    inline: Option<u8>,
}

/// A file of the run, streamed. Shown inline only for images and HTML (`?inline=1`, for the app's
/// `<img>` and sandboxed `<iframe>`); everything else is a download.
async fn file(
    State(state): State<AppState>,
    UrlPath((run, path)): UrlPath<(String, String)>,
    Query(query): Query<FileQuery>,
) -> Response {
    let real = match paths::resolve(&state.runs, &run, &path) {
        Ok(real) if real.is_file() => real,
        _ => return not_found(),
    };
    let Ok(file) = tokio::fs::File::open(&real).await else { return not_found() };
    let size = file.metadata().await.map_or(0, |m| m.len());
    let name = path.rsplit('/').next().unwrap_or("artifact");
    let kind = content_type(name);
    let inline = query.inline == Some(1) && (kind.starts_with("image/") || kind.starts_with("text/html"));
    let safe_name: String =
        name.chars().map(|c| if c.is_ascii_alphanumeric() || "._-@".contains(c) { c } else { '_' }).collect();
    let disposition = if inline { "inline".to_string() } else { format!("attachment; filename=\"{safe_name}\"") };
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(size));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(FILE_CSP));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    let stream = futures_util::stream::unfold((file, size), |(mut file, left)| async move {
        use tokio::io::AsyncReadExt;
        if left == 0 {
            return None;
        }
        let mut buffer = vec![0u8; 64 * 1024];
        match file.read(&mut buffer).await {
            Ok(0) | Err(_) => None,
            Ok(n) => {
                buffer.truncate(n);
                let left = left.saturating_sub(n as u64);
                Some((Ok::<_, std::io::Error>(buffer), (file, left)))
            }
        }
    });
    (headers, Body::from_stream(stream)).into_response()
}

/// Live updates of a run: a `state` event (the run's status and each task's) whenever it changes,
/// then `end` once the run has finished (or its folder is gone), and the stream closes. The first
/// event comes at once.
async fn events(State(state): State<AppState>, UrlPath(run): UrlPath<String>) -> Response {
    if run_dir(&state, &run).is_none() {
        return not_found();
    }
    Sse::new(state_events(state, run)).keep_alive(KeepAlive::default()).into_response()
}

fn state_events(state: AppState, run: String) -> impl Stream<Item = Result<Event, Infallible>> {
    struct Watch {
        state: AppState,
        run: String,
        last: Option<records::RunState>,
        first: bool,
        ended: Ended,
        /// How long the last look at the run took.
        cost: Duration,
    }
    enum Ended {
        No,
        AfterThis,
        Yes,
    }
    let watch = Watch { state, run, last: None, first: true, ended: Ended::No, cost: Duration::ZERO };
    futures_util::stream::unfold(watch, |mut watch| async move {
        match watch.ended {
            Ended::Yes => return None,
            // The last state went out: say so, so that the browser closes rather than reconnects.
            Ended::AfterThis => {
                watch.ended = Ended::Yes;
                return Some((Ok(Event::default().event("end").data("finished")), watch));
            }
            Ended::No => {}
        }
        loop {
            if !watch.first {
                // A large run takes longer to read: wait at least twice that long, so that one
                // watcher never keeps more than a third of a core busy.
                tokio::time::sleep(watch.state.tick.max(watch.cost * 2)).await;
            }
            watch.first = false;
            let (runs, run) = (Arc::clone(&watch.state.runs), watch.run.clone());
            let started = std::time::Instant::now();
            let now = blocking(move || records::run_state(&runs, &run)).await.flatten();
            watch.cost = started.elapsed();
            let Some(now) = now else {
                watch.ended = Ended::Yes;
                return Some((Ok(Event::default().event("end").data("gone")), watch));
            };
            if watch.last.as_ref() != Some(&now) {
                let data = serde_json::to_string(&now).unwrap_or_default();
                let finished = !matches!(now.status.as_str(), "running");
                watch.last = Some(now);
                // After the last change of a finished run there is nothing more to say.
                if finished {
                    watch.ended = Ended::AfterThis;
                }
                return Some((Ok(Event::default().event("state").data(data)), watch));
            }
        }
    })
}

/// Where `kflc ui` listens and what it serves.
#[derive(Clone, Debug)]
pub struct UiOptions {
    /// The folder `kflc run` writes to (`.kfl`); runs are in its `runs/`.
    pub root: PathBuf,
    pub host: std::net::IpAddr,
    pub port: u16,
}

/// The `Host` header values a loopback server bound to `address` accepts: its own address and the
/// usual loopback names.
pub fn loopback_hosts(address: SocketAddr) -> Vec<String> {
    let port = address.port();
    let mut hosts = vec![format!("127.0.0.1:{port}"), format!("localhost:{port}"), format!("[::1]:{port}")];
    if !hosts.contains(&address.to_string()) {
        hosts.push(address.to_string());
    }
    hosts
}

/// Serves on an already bound listener until the process ends.
pub async fn serve_on(listener: tokio::net::TcpListener, runs: PathBuf, loopback: bool) -> std::io::Result<()> {
    let hosts = if loopback { loopback_hosts(listener.local_addr()?) } else { Vec::new() };
    let state = AppState {
        runs: Arc::new(runs),
        hosts: Arc::new(hosts),
        tick: Duration::from_millis(400),
        token: Arc::new(new_token()?),
    };
    axum::serve(listener, router(state)).await
}

/// Binds and serves; `ready` is told the address once listening (to print it, open a browser).
pub fn serve(options: &UiOptions, ready: impl FnOnce(SocketAddr)) -> Result<(), String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the server's runtime: {e}"))?;
    let runs = options.root.join("runs");
    runtime.block_on(async {
        let address = SocketAddr::new(options.host, options.port);
        let listener =
            tokio::net::TcpListener::bind(address).await.map_err(|e| format!("cannot listen on {address}: {e}"))?;
        let bound = listener.local_addr().map_err(|e| e.to_string())?;
        ready(bound);
        serve_on(listener, runs, options.host.is_loopback()).await.map_err(|e| format!("the server stopped: {e}"))
    })
}
