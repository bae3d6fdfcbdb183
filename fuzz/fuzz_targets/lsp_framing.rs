//! The language server's framing (`kfl_lsp::transport::FrameReader`) never panics and always comes
//! to the end of its input, whatever bytes a client sends: wrong, huge or non-numeric
//! `Content-Length`s, missing blank lines, bodies that are not JSON, garbage between messages.
//!
//! Checked beside "no panic": the reader ends (a hang is a libFuzzer timeout); it gives at most one
//! frame per byte of input plus one, so it never loops on the same bytes; every `Message` frame's
//! body is JSON; and after any input, a well-formed message that follows the input once a blank
//! line is read back as the last message (the reader resynchronises: nothing a client sent before
//! can swallow a later message for good).
#![no_main]

use kfl_lsp::transport::{frame, Frame, FrameReader};
use libfuzzer_sys::fuzz_target;

const LAST: &[u8] = br#"{"jsonrpc":"2.0","id":424242,"method":"shutdown"}"#;

fuzz_target!(|data: &[u8]| {
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    runtime.block_on(async {
        let frames = read_all(data).await;
        assert!(frames.len() <= data.len() + 1, "{} frames from {} bytes", frames.len(), data.len());
        for f in &frames {
            if let Frame::Message(body) = f {
                assert!(serde_json::from_slice::<serde_json::Value>(body).is_ok(), "a Message that is not JSON");
            }
        }
        // The same bytes, then a blank line and a well-formed message.
        let mut input = data.to_vec();
        input.extend_from_slice(b"\r\n\r\n");
        input.extend(frame(LAST));
        let frames = read_all(&input).await;
        let last = frames.iter().rev().find_map(|f| match f {
            Frame::Message(body) => Some(body.as_slice()),
            Frame::Invalid { .. } => None,
        });
        assert_eq!(last, Some(LAST), "the message after the input was not read back");
    });
});

async fn read_all(data: &[u8]) -> Vec<Frame> {
    let mut reader = FrameReader::new(data);
    let mut frames = Vec::new();
    while let Ok(Some(f)) = reader.read_frame().await {
        frames.push(f);
        assert!(frames.len() <= data.len() + 2, "the reader does not come to the end");
    }
    frames
}
