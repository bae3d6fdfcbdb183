//! `kflc lsp` after messages with a wrong `Content-Length` (issue 12, item 12): the server answers
//! the next well-formed request. (The framing itself is tested byte by byte in
//! `crates/kfl-lsp/tests/framing.rs`; this is the command as an editor starts it.)

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

fn frame(body: &str, length: usize) -> Vec<u8> {
    format!("Content-Length: {length}\r\n\r\n{body}").into_bytes()
}

#[test]
fn the_language_server_answers_after_messages_with_wrong_lengths() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_kflc"))
        .arg("lsp")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("kflc lsp starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut stdout = child.stdout.take().expect("stdout");
    // Everything the server writes, as it arrives.
    let (sender, received) = mpsc::channel::<Vec<u8>>();
    std::thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = stdout.read(&mut buffer) {
            if n == 0 || sender.send(buffer[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let initialize = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"capabilities":{}}}"#;
    let shutdown = r#"{"jsonrpc":"2.0","id":2,"method":"shutdown"}"#;
    let mut input = Vec::new();
    // Too short (the rest of the body is garbage where a header belongs), too long (the next
    // header arrives inside it), not a number, a body that is not UTF-8, then the real requests.
    input.extend(frame(r#"{"jsonrpc":"2.0","id":90,"method":"initialize","params":{}}"#, 10));
    input.extend(frame(r#"{"jsonrpc":"2.0","id":91}"#, 5000));
    input.extend(b"Content-Length: many\r\n\r\n{}");
    // Right length, but a string that is not UTF-8 (found by fuzz/lsp_framing: the server stopped).
    let not_utf8 = b"{\"jsonrpc\":\"2.0\",\"id\":92,\"mehtod\":\"initial\x93ze\",\"params\":{}}";
    input.extend(format!("Content-Length: {}\r\n\r\n", not_utf8.len()).as_bytes());
    input.extend(not_utf8);
    input.extend(frame(initialize, initialize.len()));
    input.extend(frame(shutdown, shutdown.len()));
    stdin.write_all(&input).expect("write");
    stdin.flush().expect("flush");
    let mut seen = String::new();
    let answered =
        |seen: &str, id: u32| seen.contains(&format!("\"id\":{id},")) || seen.contains(&format!("\"id\":{id}}}"));
    while !(answered(&seen, 1) && answered(&seen, 2)) {
        match received.recv_timeout(Duration::from_secs(30)) {
            Ok(bytes) => seen.push_str(&String::from_utf8_lossy(&bytes)),
            Err(_) => break,
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(answered(&seen, 1), "no answer to initialize after the bad messages:\n{seen}");
    assert!(seen.contains("\"capabilities\""), "{seen}");
    assert!(answered(&seen, 2), "no answer to shutdown:\n{seen}");
}
