//! The stdio framing around tower-lsp-server, so that no input ends the server.
//!
//! tower-lsp-server reads its input with a framed codec that stops reading for good after the first
//! message it cannot decode (a body that is not JSON, a JSON value that is not a JSON-RPC message, a
//! header it rejects): one bad message from a client would end the session. So the server reads
//! frames itself: every well-formed message goes on to tower-lsp-server unchanged, and a malformed
//! one is answered here with the JSON-RPC error it deserves (`-32700` parse error or `-32600`
//! invalid request), through the same writer that sends the server's own messages, one whole frame
//! at a time, and logged (stderr, and `window/logMessage` once the client has sent `initialize`)
//! with a short escaped excerpt of its bytes.
//!
//! A wrong `Content-Length` must not misalign the stream for ever, so the reader resynchronises on
//! the next `Content-Length: N` header line: where the bytes that should start a header are not
//! one (garbage, the rest of a body whose length was too small, a length that is not a number),
//! and inside a body that is not valid JSON or has not fully arrived (a length that was too large:
//! the next message's header arrives inside it, and the reader does not wait for bytes that will
//! never come).
//!
//! Invariants:
//! - [`FrameReader::read_frame`] is cancel safe (it is raced in a `select!`): every byte read is
//!   kept in the reader's buffer until a whole frame, or a whole run of skipped bytes, is decided.
//! - Memory is bounded: skipped bytes and bodies over [`MAX_BODY`] are dropped as they arrive; only
//!   their first [`MAX_KEPT`] bytes are kept, to find the id to answer.

use serde_json::{json, Value};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tower_lsp_server::jsonrpc::{Request, Response};

/// Larger bodies are dropped as they arrive (answered as invalid), never kept.
const MAX_BODY: usize = 256 * 1024 * 1024;
/// A header line longer than this is not a header.
const MAX_HEADER_LINE: usize = 8 * 1024;
/// How much of a run of skipped bytes is kept to find the id of the message it was.
const MAX_KEPT: usize = 64 * 1024;
/// How many bytes of a bad message a log line shows.
const EXCERPT: usize = 80;
/// The longest `Content-Length: N` line the resynchronisation recognises (name, 8 blanks, 20
/// digits, 8 blanks, CR LF): bytes are only dropped while skipping once this many follow them.
const MAX_MARKER: usize = 15 + 8 + 20 + 8 + 2;
/// Bytes asked of the input per read.
const READ_CHUNK: usize = 64 * 1024;

/// One frame from the client.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A body tower-lsp-server can decode.
    Message(Vec<u8>),
    /// Bytes that were not a well-formed message.
    Invalid {
        /// The error response to send, if the bytes held something that could be a message.
        response: Option<Vec<u8>>,
        /// What was wrong and what was skipped, for the log (one line, bad bytes escaped).
        log: String,
    },
}

/// Reads frames from a byte stream, resynchronising after malformed ones (see the module docs).
pub struct FrameReader<R> {
    input: R,
    /// Bytes read and not yet decided on.
    buffer: Vec<u8>,
    at_end: bool,
    /// How far into `buffer` an incomplete body has been searched for a header already.
    searched: usize,
    /// Set while dropping bytes up to the next header.
    skipping: Option<Skipping>,
    /// Bodies are passed on as they are, without looking inside them (see [`FrameReader::trusted`]).
    trusted: bool,
}

/// A run of bytes being dropped up to the next `Content-Length` header.
struct Skipping {
    reason: &'static str,
    /// The first [`MAX_KEPT`] bytes, to answer with the message's id and to log an excerpt.
    kept: Vec<u8>,
    dropped: usize,
    /// Stop after this many bytes even without a header (the `Content-Length` of a body too
    /// large to keep); answer even if what was dropped is empty.
    limit: Option<usize>,
}

impl Skipping {
    fn drop_bytes(&mut self, bytes: &[u8]) {
        let room = MAX_KEPT.saturating_sub(self.kept.len());
        self.kept.extend_from_slice(&bytes[..bytes.len().min(room)]);
        self.dropped += bytes.len();
    }

    fn finish(self) -> Frame {
        let log = format!("skipped {} bytes ({}): {}", self.dropped, self.reason, excerpt(&self.kept));
        let body = without_header_block(&self.kept);
        let response = if self.limit.is_some() || !body.trim_ascii().is_empty() {
            Some(broken_response(body, self.reason))
        } else {
            None
        };
        Frame::Invalid { response, log }
    }
}

/// What the buffered bytes make, as far as they go.
enum Step {
    Frame(Frame),
    /// Nothing decided yet: more bytes are needed.
    More,
    /// The state changed; look again.
    Again,
}

impl<R: AsyncRead + Unpin> FrameReader<R> {
    pub fn new(input: R) -> FrameReader<R> {
        FrameReader { input, buffer: Vec::new(), at_end: false, searched: 0, skipping: None, trusted: false }
    }

    /// A reader of the server's own output, which tower-lsp-server frames and serializes itself:
    /// headers are read as from the client, but a body is passed on once its `Content-Length` bytes
    /// have arrived, without parsing it as JSON (three times, to tell a request from a response)
    /// or searching it for a header. For a large answer that work was most of its cost: about
    /// 70 ms of the ~250 ms a `semanticTokens/full` of a 50,000-line file took.
    pub fn trusted(input: R) -> FrameReader<R> {
        FrameReader { trusted: true, ..FrameReader::new(input) }
    }

    /// Reads the next frame; `None` at the end of the input.
    pub async fn read_frame(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            match self.step() {
                Step::Frame(frame) => return Ok(Some(frame)),
                Step::Again => continue,
                Step::More if self.at_end => return Ok(self.end()),
                Step::More => {
                    self.buffer.reserve(READ_CHUNK);
                    // `read_buf` is cancel safe: it appends what it read or nothing.
                    if self.input.read_buf(&mut self.buffer).await? == 0 {
                        self.at_end = true;
                    }
                }
            }
        }
    }

    /// What is left at the end of the input: a run being skipped, or an unfinished message.
    fn end(&mut self) -> Option<Frame> {
        if let Some(mut skipping) = self.skipping.take() {
            let rest = std::mem::take(&mut self.buffer);
            skipping.drop_bytes(&rest);
            return Some(skipping.finish());
        }
        let rest = std::mem::take(&mut self.buffer);
        if rest.trim_ascii().is_empty() {
            return None;
        }
        let log = format!("the input ended inside a message; dropped {} bytes: {}", rest.len(), excerpt(&rest));
        Some(Frame::Invalid { response: None, log })
    }

    fn consume(&mut self, count: usize) {
        self.buffer.drain(..count);
        self.searched = 0;
    }

    /// Starts skipping at the start of the buffer, dropping at least its first byte so that the
    /// next header looked for is after it.
    fn skip(&mut self, reason: &'static str, kept: Vec<u8>) -> Step {
        let dropped = kept.len();
        let mut skipping = Skipping { reason, kept, dropped, limit: None };
        if let Some(&first) = self.buffer.first() {
            skipping.drop_bytes(&[first]);
            self.consume(1);
        }
        self.skipping = Some(skipping);
        Step::Again
    }

    fn step(&mut self) -> Step {
        if let Some(skipping) = &mut self.skipping {
            let left = skipping.limit.map_or(usize::MAX, |limit| limit - skipping.dropped);
            let (upto, done) = match find_header(&self.buffer) {
                Some(at) if at <= left => (at, true),
                _ if self.buffer.len() >= left => (left, true),
                // Keep what could be the start of a header that has not fully arrived.
                _ => (self.buffer.len().saturating_sub(MAX_MARKER), false),
            };
            skipping.drop_bytes(&self.buffer[..upto]);
            self.consume(upto);
            if !done {
                return Step::More;
            }
            return match self.skipping.take() {
                Some(skipping) => Step::Frame(skipping.finish()),
                None => Step::Again,
            };
        }

        // Line ends between messages are tolerated.
        let blank = self.buffer.iter().take_while(|b| matches!(b, b'\r' | b'\n')).count();
        self.consume(blank);
        if self.buffer.is_empty() {
            return Step::More;
        }

        // The header block.
        let mut length: Option<Result<usize, ()>> = None;
        let mut line_start = 0;
        let body_start = loop {
            let Some(newline) = self.buffer[line_start..].iter().position(|&b| b == b'\n') else {
                let partial = &self.buffer[line_start..];
                if partial.len() > MAX_HEADER_LINE || !is_header_prefix(partial) {
                    return self.skip("not a header", Vec::new());
                }
                return Step::More;
            };
            let line = &self.buffer[line_start..line_start + newline];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            line_start += newline + 1;
            if line.is_empty() {
                break line_start;
            }
            let Some((name, value)) = header(line) else {
                return self.skip("not a header", Vec::new());
            };
            if name.eq_ignore_ascii_case(b"content-length") {
                length = Some(std::str::from_utf8(value.trim_ascii()).ok().and_then(|v| v.parse().ok()).ok_or(()));
            }
        };
        let length = match length {
            Some(Ok(length)) => length,
            Some(Err(())) => return self.skip("the Content-Length is not a number", Vec::new()),
            None => return self.skip("a header block without a Content-Length", Vec::new()),
        };
        if length > MAX_BODY {
            let header = self.buffer[..body_start].to_vec();
            self.consume(body_start);
            self.skipping =
                Some(Skipping { reason: "message too large", kept: header, dropped: 0, limit: Some(length) });
            return Step::Again;
        }

        // The body. A header inside it means its `Content-Length` was too large: the message ends
        // there. A body that is valid JSON never holds one: JSON has `Content-Length:` only inside
        // a string, where a raw line feed cannot follow it. (A client that sent a body that is not
        // JSON, with such a line in it, is resynchronised there too: it has nothing to lose.)
        let available = self.buffer.len() - body_start;
        if self.trusted {
            if available < length {
                return Step::More;
            }
            let body = self.buffer[body_start..body_start + length].to_vec();
            self.consume(body_start + length);
            return Step::Frame(Frame::Message(body));
        }
        if available < length {
            let from = body_start.max(self.searched.saturating_sub(MAX_MARKER));
            if let Some(at) = find_header(&self.buffer[from..]) {
                let body = self.buffer[body_start..from + at].to_vec();
                self.consume(from + at);
                let log = format!(
                    "the Content-Length ({length}) is larger than the {} bytes before the next header: {}",
                    body.len(),
                    excerpt(&body)
                );
                let response = Some(broken_response(&body, "the Content-Length is larger than the message"));
                return Step::Frame(Frame::Invalid { response, log });
            }
            self.searched = self.buffer.len();
            return Step::More;
        }
        let body = self.buffer[body_start..body_start + length].to_vec();
        if let Some(frame) = check(&body) {
            self.consume(body_start + length);
            return Step::Frame(frame);
        }
        // A header may start inside the body and end after it (a length too large by a few bytes).
        let after_body = &self.buffer[body_start..];
        if let Some(at) = find_header(after_body).filter(|&at| at < length) {
            self.consume(body_start + at);
            let body = &body[..at];
            let log = format!(
                "the Content-Length ({length}) is larger than the {} bytes before the next header: {}",
                body.len(),
                excerpt(body)
            );
            let response = Some(broken_response(body, "the Content-Length is larger than the message"));
            return Step::Frame(Frame::Invalid { response, log });
        }
        // Only where the body up to there is a whole JSON value: a body that is not JSON and ends
        // in `c` is answered at once, not when the next message comes.
        let cut_short = |at: usize| {
            matches!(after_body[..at].trim_ascii_end().last(), Some(b'}' | b']'))
                && is_header_start(&after_body[at..])
                && serde_json::from_slice::<Value>(&after_body[..at]).is_ok()
        };
        if !self.at_end && (length.saturating_sub(MAX_MARKER)..length).any(cut_short) {
            return Step::More;
        }
        self.consume(body_start + length);
        // Not JSON. If what follows at once is not a header either, the `Content-Length` was too
        // small: the rest of the message is skipped with it, and answered once.
        let next = self.buffer.split(|&b| b == b'\n').next().unwrap_or_default();
        if !next.is_empty() && !is_header_prefix(next) {
            return self.skip("the Content-Length is smaller than the message", body);
        }
        let log = format!("a message that is not JSON: {}", excerpt(&body));
        Step::Frame(Frame::Invalid { response: Some(error_response(Value::Null, -32700, "Parse error")), log })
    }
}

/// Where the first whole `Content-Length: N` line starts (case-insensitive, anywhere: the body
/// before it may not end in a line feed).
fn find_header(bytes: &[u8]) -> Option<usize> {
    // Candidates are the `c`s and `C`s: a byte-at-a-time scan for them is a few instructions a
    // byte, where comparing a window at every position cost hundreds (a 2.5 MB `didOpen`).
    let mut from = 0;
    while from < bytes.len() {
        let at = from + bytes[from..].iter().position(|&b| b | 0x20 == b'c')?;
        if is_header_line(&bytes[at..]) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `bytes` starts with a whole `Content-Length: N` line.
fn is_header_line(bytes: &[u8]) -> bool {
    const NAME: &[u8] = b"content-length:";
    if bytes.len() < NAME.len() || !bytes[..NAME.len()].eq_ignore_ascii_case(NAME) {
        return false;
    }
    let rest = &bytes[NAME.len()..];
    let blanks = rest.iter().take(9).take_while(|b| matches!(b, b' ' | b'\t')).count();
    let digits = rest[blanks..].iter().take(21).take_while(|b| b.is_ascii_digit()).count();
    let after = &rest[blanks + digits..];
    let trailing = after.iter().take(9).take_while(|b| matches!(b, b' ' | b'\t')).count();
    let after = &after[trailing..];
    let ends = after.starts_with(b"\n") || after.starts_with(b"\r\n");
    blanks <= 8 && (1..=20).contains(&digits) && trailing <= 8 && ends
}

/// Whether `bytes` can still grow into a whole `Content-Length: N` line.
fn is_header_start(bytes: &[u8]) -> bool {
    const NAME: &[u8] = b"content-length:";
    let named = bytes.len().min(NAME.len());
    if named == 0 || !bytes[..named].eq_ignore_ascii_case(&NAME[..named]) {
        return false;
    }
    let rest = &bytes[named..];
    let blanks = rest.iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    let digits = rest[blanks..].iter().take_while(|b| b.is_ascii_digit()).count();
    let trailing = rest[blanks + digits..].iter().take_while(|b| matches!(b, b' ' | b'\t')).count();
    let end = &rest[blanks + digits + trailing..];
    blanks <= 8 && digits <= 20 && trailing <= 8 && (end.is_empty() || end == b"\r")
}

/// `Name: value` with a token for a name and no control bytes in the value.
fn header(line: &[u8]) -> Option<(&[u8], &[u8])> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let fine = !name.is_empty()
        && name.iter().all(|&b| is_token(b))
        && value.iter().all(|&b| b == b'\t' || (b >= 0x20 && b != 0x7f));
    fine.then_some((name, value))
}

/// Whether a line that has not fully arrived can still become a header line.
fn is_header_prefix(partial: &[u8]) -> bool {
    let partial = partial.strip_suffix(b"\r").unwrap_or(partial);
    match partial.iter().position(|&b| b == b':') {
        None => partial.iter().all(|&b| is_token(b)),
        Some(_) => header(partial).is_some(),
    }
}

fn is_token(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte)
}

/// The body after a header block at the start of `bytes`, or all of `bytes`.
fn without_header_block(bytes: &[u8]) -> &[u8] {
    let mut rest = bytes;
    loop {
        let Some(newline) = rest.iter().position(|&b| b == b'\n') else { return bytes };
        let line = &rest[..newline];
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.is_empty() {
            return if rest.len() == bytes.len() { bytes } else { &rest[newline + 1..] };
        }
        if header(line).is_none() {
            return bytes;
        }
        rest = &rest[newline + 1..];
    }
}

/// The answer to a message cut off by bad framing: with its id when it is JSON that has one.
fn broken_response(body: &[u8], reason: &str) -> Vec<u8> {
    // The first JSON value, whatever follows it (the rest of a message whose length was too small
    // runs on into what came after it).
    match serde_json::Deserializer::from_slice(body).into_iter::<Value>().next().unwrap_or(Ok(Value::Null)) {
        Ok(value) => error_response(id_of(&value), -32600, &format!("Invalid request: {reason}")),
        Err(_) => error_response(Value::Null, -32700, &format!("Parse error: {reason}")),
    }
}

fn id_of(value: &Value) -> Value {
    match value.get("id") {
        Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
        _ => Value::Null,
    }
}

/// The first [`EXCERPT`] bytes, escaped, with a mark when there were more.
fn excerpt(bytes: &[u8]) -> String {
    let shown = &bytes[..bytes.len().min(EXCERPT)];
    let more = if bytes.len() > EXCERPT { "..." } else { "" };
    format!("\"{}\"{more}", shown.escape_ascii())
}

/// The frame a body of the right length makes; `None` if it is not JSON.
fn check(body: &[u8]) -> Option<Frame> {
    // Strict JSON first: a Request or a Response can be read from a body that is not JSON (serde
    // skips an unknown field's string without checking that it is UTF-8), and tower-lsp-server's
    // own decoder then fails on it and stops reading for good (found by fuzz/lsp_framing).
    let value = serde_json::from_slice::<Value>(body).ok()?;
    if serde_json::from_slice::<Request>(body).is_ok() || serde_json::from_slice::<Response>(body).is_ok() {
        return Some(Frame::Message(body.to_vec()));
    }
    let log = format!("a message that is not JSON-RPC: {}", excerpt(body));
    Some(Frame::Invalid { response: Some(error_response(id_of(&value), -32600, "Invalid request")), log })
}

fn error_response(id: Value, code: i64, message: &str) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id}).to_string().into_bytes()
}

pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Copies the client's frames to the server; answers malformed ones and logs them through
/// `to_client` (and on stderr).
pub async fn forward_input<R, W>(input: R, mut server: W, to_client: UnboundedSender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = FrameReader::new(input);
    // The server may send `window/logMessage` once the client has sent `initialize`.
    let mut may_log = false;
    loop {
        match input.read_frame().await {
            Ok(Some(Frame::Message(body))) => {
                if !may_log && body.windows(12).any(|w| w == b"\"initialize\"") {
                    may_log = serde_json::from_slice::<Value>(&body)
                        .is_ok_and(|message| message.get("method").and_then(Value::as_str) == Some("initialize"));
                }
                if server.write_all(&frame(&body)).await.is_err() {
                    break;
                }
            }
            Ok(Some(Frame::Invalid { response, log })) => {
                eprintln!("kfl-lsp: {log}");
                if may_log {
                    let message = json!({
                        "jsonrpc": "2.0",
                        "method": "window/logMessage",
                        "params": {"type": 2, "message": format!("kfl-lsp: {log}")},
                    });
                    if to_client.send(message.to_string().into_bytes()).is_err() {
                        break;
                    }
                }
                if let Some(response) = response {
                    if to_client.send(response).is_err() {
                        break;
                    }
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    // The end of the input ends the server's loop too.
    let _ = server.shutdown().await;
}

/// Writes the server's frames and the transport's own messages to the client, whole frames only.
pub async fn forward_output<R, W>(server: R, mut errors: UnboundedReceiver<Vec<u8>>, mut output: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut server = FrameReader::trusted(server);
    let mut errors_open = true;
    loop {
        tokio::select! {
            // The transport's own messages first: one queued before a request was passed on goes
            // out before the server's answer to that request.
            biased;
            error = errors.recv(), if errors_open => match error {
                Some(body) => {
                    if output.write_all(&frame(&body)).await.is_err() || output.flush().await.is_err() {
                        return;
                    }
                }
                None => errors_open = false,
            },
            // `read_frame` is cancel safe: a frame half read when an error comes stays buffered.
            frame_read = server.read_frame() => match frame_read {
                Ok(Some(Frame::Message(body) | Frame::Invalid { response: Some(body), .. })) => {
                    if output.write_all(&frame(&body)).await.is_err() || output.flush().await.is_err() {
                        return;
                    }
                }
                Ok(Some(Frame::Invalid { response: None, .. })) => {}
                Ok(None) | Err(_) => break,
            },
        }
    }
    while let Ok(body) = errors.try_recv() {
        if output.write_all(&frame(&body)).await.is_err() {
            return;
        }
    }
    let _ = output.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    const GOOD: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#;

    /// The header search finds what comparing a window at every position finds, on inputs full of
    /// near misses (`c`s, cut names, other cases, missing digits or line ends).
    #[test]
    fn find_header_agrees_with_a_search_of_every_window() {
        fn every_window(bytes: &[u8]) -> Option<usize> {
            (0..bytes.len()).find(|&at| is_header_line(&bytes[at..]))
        }
        let pieces: [&[u8]; 12] = [
            b"c",
            b"C",
            b"content-length:",
            b"Content-Length: ",
            b"CONTENT-LENGTH:",
            b"content-lengt",
            b"12",
            b"\r\n",
            b"\n",
            b" ",
            b"x",
            b"\t",
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..20_000 {
            let mut bytes = Vec::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut pick = seed;
            for _ in 0..(seed % 12) {
                bytes.extend_from_slice(pieces[(pick % 12) as usize]);
                pick /= 12;
            }
            assert_eq!(find_header(&bytes), every_window(&bytes), "{:?}", String::from_utf8_lossy(&bytes));
        }
        assert_eq!(find_header(b"xx content-length: 5\r\n"), Some(3));
        assert_eq!(find_header(b"c"), None);
    }

    /// Hands out one chunk per read, as a pipe does.
    struct Chunks(VecDeque<Vec<u8>>);

    impl AsyncRead for Chunks {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            if let Some(mut chunk) = self.0.pop_front() {
                let n = chunk.len().min(buf.remaining());
                buf.put_slice(&chunk[..n]);
                if n < chunk.len() {
                    self.0.push_front(chunk.split_off(n));
                }
            }
            Poll::Ready(Ok(()))
        }
    }

    /// What each frame of the chunks makes: `Ok(body)` for a message, `Err(response)` for a
    /// malformed one (`""` when it is only logged).
    fn frames_of(chunks: &[&[u8]]) -> Vec<Result<String, String>> {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        runtime.block_on(async {
            let mut reader = FrameReader::new(Chunks(chunks.iter().map(|c| c.to_vec()).collect()));
            let mut out = Vec::new();
            while let Ok(Some(frame)) = reader.read_frame().await {
                out.push(match frame {
                    Frame::Message(body) => Ok(String::from_utf8_lossy(&body).to_string()),
                    Frame::Invalid { response, log } => {
                        assert!(log.len() < 300, "a short log line: {log}");
                        Err(String::from_utf8_lossy(&response.unwrap_or_default()).to_string())
                    }
                });
            }
            out
        })
    }

    fn frames(input: &[u8]) -> Vec<Result<String, String>> {
        frames_of(&[input])
    }

    fn with_good(bad: &[u8]) -> Vec<u8> {
        let mut input = bad.to_vec();
        input.extend(frame(GOOD.as_bytes()));
        input
    }

    fn error(got: &Result<String, String>) -> Value {
        match got {
            Err(response) => serde_json::from_str(response).unwrap_or(Value::Null),
            Ok(body) => panic!("a message, not an error: {body}"),
        }
    }

    #[test]
    fn malformed_frames_are_answered_and_skipped() {
        let good = r#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#;
        let mut input = Vec::new();
        input.extend(frame(b"{not json"));
        input.extend(b"Garbage: 1\r\n\r\n");
        input.extend(frame(b"[1,2]"));
        input.extend(frame(br#"{"id": 7, "what": true}"#));
        input.extend(format!("content-length: {}\r\nContent-Type: text/plain\r\n\r\n{good}", good.len()).as_bytes());
        let got = frames(&input);
        assert_eq!(got.len(), 5);
        assert!(matches!(&got[0], Err(e) if e.contains("-32700")));
        assert_eq!(got[1], Err(String::new()), "a header block alone is logged, not answered");
        assert!(matches!(&got[2], Err(e) if e.contains("-32600") && e.contains("\"id\":null")));
        assert!(matches!(&got[3], Err(e) if e.contains("-32600") && e.contains("\"id\":7")));
        assert_eq!(got[4], Ok(good.to_string()));
    }

    #[test]
    fn a_body_with_bytes_that_are_not_utf8_in_a_string_is_not_passed_on() {
        // An unknown field whose string is not UTF-8: a Request or a Response reads it (the field is
        // skipped), tower-lsp-server's decoder does not, and stopped reading after it.
        let bad = b"{\"jsonrpc\":\"2.0\",\"id\":1,\"mehtod\":\"initial\x93ze\",\"params\":{}}";
        let got = frames(&with_good(&frame(bad)));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(error(&got[0])["error"]["code"], -32700);
        assert_eq!(got[1], Ok(GOOD.to_string()));
    }

    #[test]
    fn a_content_length_too_large_ends_at_the_next_header() {
        let bad = br#"{"jsonrpc":"2.0","id":5,"method":"kfl/x"}"#;
        let mut input = format!("Content-Length: {}\r\n\r\n", bad.len() + 60).into_bytes();
        input.extend(bad);
        let got = frames(&with_good(&input));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(error(&got[0])["id"], 5);
        assert_eq!(error(&got[0])["error"]["code"], -32600);
        assert_eq!(got[1], Ok(GOOD.to_string()));

        // Larger than everything that follows: the reader does not wait for the missing bytes.
        let mut input = b"Content-Length: 100000\r\n\r\n{\"jsonrpc\"".to_vec();
        input = with_good(&input);
        let got = frames_of(&[&input]);
        assert_eq!(error(&got[0])["error"]["code"], -32700);
        assert_eq!(got[1], Ok(GOOD.to_string()));
    }

    #[test]
    fn a_content_length_too_small_skips_the_rest_of_the_message() {
        let bad = br#"{"jsonrpc":"2.0","id":"six","method":"kfl/x","params":{"long":true}}"#;
        let mut input = b"Content-Length: 20\r\n\r\n".to_vec();
        input.extend(bad);
        let got = frames(&with_good(&input));
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(error(&got[0])["id"], "six", "answered once, with its id");
        assert_eq!(got[1], Ok(GOOD.to_string()));
        // The rest arrives later than the cut body: answered twice, but the next message is read.
        let (head, tail) = input.split_at(22 + 20);
        let got = frames_of(&[head, tail, &frame(GOOD.as_bytes())]);
        assert_eq!(got.last(), Some(&Ok(GOOD.to_string())), "{got:?}");
        assert!(got[..got.len() - 1].iter().all(Result::is_err), "{got:?}");
    }

    #[test]
    fn a_content_length_that_is_not_a_number_is_skipped() {
        for header in [
            "Content-Length: twelve",
            "Content-Length:",
            "Content-Length: 99999999999999999999999",
            "Content-Length: -3",
        ] {
            let input = format!("{header}\r\n\r\n{{\"jsonrpc\":\"2.0\",\"id\":8,\"method\":\"kfl/x\"}}");
            let got = frames(&with_good(input.as_bytes()));
            assert_eq!(got.len(), 2, "{header}: {got:?}");
            assert_eq!(error(&got[0])["id"], 8, "{header}");
            assert_eq!(got[1], Ok(GOOD.to_string()), "{header}");
        }
    }

    #[test]
    fn garbage_between_messages_is_skipped() {
        let cases: [&[u8]; 5] = [
            b"hello\n",
            b"\x00\xff\xfe",
            b"}]}",
            b"Content-Length: 5\r\nnot a header line\r\n\r\n",
            b"trailing json of another message\"}",
        ];
        for garbage in cases {
            let got = frames(&with_good(garbage));
            assert_eq!(got.len(), 2, "{:?}: {got:?}", garbage.escape_ascii().to_string());
            assert_eq!(error(&got[0])["error"]["code"], -32700);
            assert_eq!(got[1], Ok(GOOD.to_string()));
        }
        // Blank lines between messages are not garbage.
        let got = frames(&with_good(b"\r\n\r\n\n"));
        assert_eq!(got, [Ok(GOOD.to_string())]);
    }

    #[test]
    fn a_header_split_across_reads_is_read_whole() {
        let input = with_good(b"");
        for at in 1..input.len() {
            let (head, tail) = input.split_at(at);
            assert_eq!(frames_of(&[head, tail]), [Ok(GOOD.to_string())], "split at {at}");
        }
        // Byte by byte, after a message whose length takes in the first byte of the next header.
        let mut input = b"Content-Length: 9\r\n\r\n{\"id\":4}".to_vec();
        input = with_good(&input);
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let got = frames_of(&bytes);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(error(&got[0])["id"], 4);
        assert_eq!(got[1], Ok(GOOD.to_string()));
    }

    #[test]
    fn a_body_that_is_not_json_is_answered_before_the_next_message() {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("a runtime");
        runtime.block_on(async {
            let (mut client, server) = tokio::io::duplex(1024);
            let mut reader = FrameReader::new(server);
            // Ends in `c`, as `Content-Length:` starts: still not worth waiting for.
            client.write_all(b"Content-Length: 4\r\n\r\n{abc").await.expect("a pipe");
            let frame = tokio::time::timeout(std::time::Duration::from_secs(5), reader.read_frame()).await;
            assert!(matches!(frame, Ok(Ok(Some(Frame::Invalid { response: Some(_), .. })))), "{frame:?}");
        });
    }

    #[test]
    fn a_header_inside_a_json_string_is_not_a_header() {
        let body = r#"{"jsonrpc":"2.0","method":"x","params":{"text":"Content-Length: 12\r\n\r\n"}}"#;
        let got = frames(&with_good(&frame(body.as_bytes())));
        assert_eq!(got, [Ok(body.to_string()), Ok(GOOD.to_string())]);
    }

    #[test]
    fn a_long_run_of_garbage_is_dropped_as_it_arrives() {
        let garbage = vec![b'x'; 3 * MAX_KEPT];
        let chunks: Vec<&[u8]> = garbage.chunks(1000).collect();
        let good = frame(GOOD.as_bytes());
        let got = frames_of(&[chunks.as_slice(), &[good.as_slice()]].concat());
        assert_eq!(got.len(), 2);
        assert_eq!(error(&got[0])["error"]["code"], -32700);
        assert_eq!(got[1], Ok(GOOD.to_string()));
    }

    #[test]
    fn the_servers_output_is_framed_without_being_parsed() {
        let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
        // Not JSON-RPC, not JSON, holding a header line: passed on as it is, by its length.
        let odd = b"{\"a\":1}\nContent-Length: 3\r\n\r\nabc".to_vec();
        let large = format!(r#"{{"jsonrpc":"2.0","id":7,"result":{{"data":[{}0]}}}}"#, "1,".repeat(100_000));
        let mut input = [frame(&odd), frame(large.as_bytes()), frame(GOOD.as_bytes())].concat();
        input.extend_from_slice(b"Content-Length: 10\r\n\r\n{}");
        let chunks: Vec<Vec<u8>> = input.chunks(4096).map(|c| c.to_vec()).collect();
        let got = runtime.block_on(async {
            let mut reader = FrameReader::trusted(Chunks(chunks.into()));
            let mut got = Vec::new();
            while let Some(frame) = reader.read_frame().await.expect("frames") {
                got.push(frame);
            }
            got
        });
        assert_eq!(got.len(), 4, "{got:?}");
        assert_eq!(got[0], Frame::Message(odd));
        assert_eq!(got[1], Frame::Message(large.into_bytes()));
        assert_eq!(got[2], Frame::Message(GOOD.as_bytes().to_vec()));
        // The end of the output inside a body is still an unfinished message.
        assert!(matches!(&got[3], Frame::Invalid { response: None, .. }), "{:?}", got[3]);
    }
}
