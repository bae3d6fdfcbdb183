//! The stdio framing around tower-lsp-server, so that no input ends the server.
//!
//! tower-lsp-server reads its input with a framed codec that stops reading for good after the first
//! message it cannot decode (a body that is not JSON, a JSON value that is not a JSON-RPC message, a
//! header it rejects): one bad message from a client would end the session. So the server reads
//! frames itself: every well-formed message goes on to tower-lsp-server unchanged, and a malformed
//! one is answered here with the JSON-RPC error it deserves (`-32700` parse error or `-32600`
//! invalid request), through the same writer that sends the server's own messages, one whole frame
//! at a time. Framing garbage (a header block without a usable `Content-Length`) is skipped up to the
//! next header block.

use serde_json::{json, Value};
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tower_lsp_server::jsonrpc::{Request, Response};

/// Larger bodies are read and dropped (answered as invalid), never kept.
const MAX_BODY: usize = 256 * 1024 * 1024;

/// One frame from the client.
pub enum Frame {
    /// A body tower-lsp-server can decode.
    Message(Vec<u8>),
    /// The error response to send for a body it cannot.
    Invalid(Vec<u8>),
}

/// Reads the next frame; `None` at the end of the input.
pub async fn read_frame<R: AsyncBufRead + Unpin>(input: &mut R) -> std::io::Result<Option<Frame>> {
    loop {
        let mut length: Option<usize> = None;
        let mut saw_header = false;
        loop {
            let mut line = Vec::new();
            if input.read_until(b'\n', &mut line).await? == 0 {
                return Ok(None);
            }
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if saw_header {
                    break;
                }
                continue;
            }
            saw_header = true;
            if let Some((name, value)) = line.split_once(':') {
                if name.trim().eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().ok();
                }
            }
        }
        let Some(length) = length else { continue };
        if length > MAX_BODY {
            let mut rest = input.take(length as u64);
            tokio::io::copy(&mut rest, &mut tokio::io::sink()).await?;
            return Ok(Some(Frame::Invalid(error_response(Value::Null, -32600, "Invalid request: message too large"))));
        }
        let mut body = vec![0; length];
        input.read_exact(&mut body).await?;
        return Ok(Some(check(body)));
    }
}

fn check(body: Vec<u8>) -> Frame {
    if serde_json::from_slice::<Request>(&body).is_ok() || serde_json::from_slice::<Response>(&body).is_ok() {
        return Frame::Message(body);
    }
    match serde_json::from_slice::<Value>(&body) {
        Err(_) => Frame::Invalid(error_response(Value::Null, -32700, "Parse error")),
        Ok(value) => {
            let id = match value.get("id") {
                Some(id @ (Value::Number(_) | Value::String(_))) => id.clone(),
                _ => Value::Null,
            };
            Frame::Invalid(error_response(id, -32600, "Invalid request"))
        }
    }
}

fn error_response(id: Value, code: i64, message: &str) -> Vec<u8> {
    json!({"jsonrpc": "2.0", "error": {"code": code, "message": message}, "id": id}).to_string().into_bytes()
}

pub fn frame(body: &[u8]) -> Vec<u8> {
    let mut out = format!("Content-Length: {}\r\n\r\n", body.len()).into_bytes();
    out.extend_from_slice(body);
    out
}

/// Copies the client's frames to the server, answering malformed ones through `errors`.
pub async fn forward_input<R, W>(input: R, mut server: W, errors: UnboundedSender<Vec<u8>>)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut input = BufReader::new(input);
    loop {
        match read_frame(&mut input).await {
            Ok(Some(Frame::Message(body))) => {
                if server.write_all(&frame(&body)).await.is_err() {
                    break;
                }
            }
            Ok(Some(Frame::Invalid(response))) => {
                if errors.send(response).is_err() {
                    break;
                }
            }
            Ok(None) | Err(_) => break,
        }
    }
    // The end of the input ends the server's loop too.
    let _ = server.shutdown().await;
}

/// Writes the server's frames and the error responses to the client, whole frames only.
pub async fn forward_output<R, W>(server: R, mut errors: UnboundedReceiver<Vec<u8>>, mut output: W)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut server = BufReader::new(server);
    let mut errors_open = true;
    loop {
        tokio::select! {
            frame_read = read_frame(&mut server) => match frame_read {
                Ok(Some(Frame::Message(body) | Frame::Invalid(body))) => {
                    if output.write_all(&frame(&body)).await.is_err() || output.flush().await.is_err() {
                        return;
                    }
                }
                Ok(None) | Err(_) => break,
            },
            error = errors.recv(), if errors_open => match error {
                Some(body) => {
                    if output.write_all(&frame(&body)).await.is_err() || output.flush().await.is_err() {
                        return;
                    }
                }
                None => errors_open = false,
            },
        }
    }
    let _ = output.flush().await;
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn frames(input: &[u8]) -> Vec<Result<String, String>> {
        let mut reader = BufReader::new(input);
        let mut out = Vec::new();
        while let Ok(Some(frame)) = read_frame(&mut reader).await {
            out.push(match frame {
                Frame::Message(b) => Ok(String::from_utf8_lossy(&b).to_string()),
                Frame::Invalid(b) => Err(String::from_utf8_lossy(&b).to_string()),
            });
        }
        out
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
        let runtime = tokio::runtime::Builder::new_current_thread().build();
        let Ok(runtime) = runtime else { return };
        let got = runtime.block_on(frames(&input));
        assert_eq!(got.len(), 4);
        assert!(matches!(&got[0], Err(e) if e.contains("-32700")));
        assert!(matches!(&got[1], Err(e) if e.contains("-32600") && e.contains("\"id\":null")));
        assert!(matches!(&got[2], Err(e) if e.contains("-32600") && e.contains("\"id\":7")));
        assert_eq!(got[3], Ok(good.to_string()));
    }
}
