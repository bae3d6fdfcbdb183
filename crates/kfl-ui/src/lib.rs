//! `kflc ui`: a run viewer in the browser for the runs `kflc run` records under `<root>/runs`.
//!
//! Layout: [`records`] reads run folders into view data and [`layout`] places the DAG (both pure,
//! tested without a server); [`preview`] makes capped previews and [`classification`] chart data
//! of `ClassificationMetrics` (and, with the `parquet` feature, `parquet_preview` the first rows of
//! a Parquet file); [`paths`] is the only way from a request to a file; [`server`] is
//! the axum app with the embedded assets (`src/assets`).
//!
//! Invariants:
//! - Nothing outside `<root>/runs` is ever opened: every path is checked piece by piece and, with
//!   symlinks resolved, must lie inside the runs folder.
//! - Loopback by default; a loopback server answers only requests whose `Host` is a loopback name
//!   (no DNS rebinding). Read-only but for one request: cancelling a run (POST), which needs the
//!   server's token (readable only by the app's own origin) and a same-origin `Origin` when one is
//!   sent; every other method is refused. No CORS header is ever sent.
//! - Every answer carries a content-security policy; files from runs carry a sandbox policy, so an
//!   HTML artifact runs no script and reaches nothing of the app.
//! - No read is unbounded: records, previews and log windows are capped; downloads stream.
//! - A damaged, half-written or older run record never breaks a list or a page: it is shown as such.
//!   A record that says `running` while no process holds its `run.lock` shows as `lost`.
//! - Run data reaches the page only as text (`textContent`), never as markup; control characters
//!   show as symbols, ANSI colours in logs as classes.

pub mod cancel;
pub mod classification;
pub mod layout;
#[cfg(feature = "parquet")]
pub mod parquet_preview;
pub mod paths;
pub mod preview;
pub mod records;
pub mod server;

pub use server::{serve, UiOptions};
