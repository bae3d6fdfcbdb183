//! The server over a pipe: after a message whose `Content-Length` is wrong, or whose header is
//! not a header at all, the server finds the next message and answers it (issue 12, item 12).

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::Duration;

use serde_json::{json, Value};

struct Server {
    child: Child,
    stdin: ChildStdin,
    messages: Receiver<Value>,
}

impl Server {
    fn start() -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kfl-lsp"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the server starts");
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, messages) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut stdout = BufReader::new(stdout);
            loop {
                let mut length = None;
                loop {
                    let mut line = String::new();
                    if stdout.read_line(&mut line).unwrap_or(0) == 0 {
                        return;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some(value) = line.strip_prefix("Content-Length:") {
                        length = value.trim().parse::<usize>().ok();
                    }
                }
                let Some(length) = length else { return };
                let mut body = vec![0; length];
                if stdout.read_exact(&mut body).is_err() {
                    return;
                }
                let Ok(message) = serde_json::from_slice(&body) else { return };
                if sender.send(message).is_err() {
                    return;
                }
            }
        });
        Server { child, stdin, messages }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.stdin.write_all(bytes).expect("the server reads its input");
        self.stdin.flush().expect("the server reads its input");
    }

    fn send(&mut self, message: Value) {
        let body = message.to_string();
        self.send_raw(format!("Content-Length: {}\r\n\r\n{body}", body.len()).as_bytes());
    }

    /// The next response (messages with a `method` are skipped), or a panic after 10 seconds.
    fn response(&self) -> Value {
        loop {
            match self.messages.recv_timeout(Duration::from_secs(10)) {
                Ok(message) if message.get("method").is_some() => continue,
                Ok(message) => return message,
                Err(RecvTimeoutError::Timeout) => panic!("the server did not answer within 10 seconds"),
                Err(RecvTimeoutError::Disconnected) => panic!("the server closed its output"),
            }
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn request(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

#[test]
fn wrong_content_lengths_are_answered_and_the_next_messages_too() {
    let mut server = Server::start();

    // Longer than the body: the next message's header arrives inside what would be the body.
    server.send_raw(b"Content-Length: 500\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":70,\"method\":\"kfl/none\"}");
    server.send(request(1, "initialize", json!({"capabilities": {}})));
    let broken = server.response();
    assert_eq!(broken["id"], 70, "{broken}");
    assert_eq!(broken["error"]["code"], -32600, "{broken}");
    let initialized = server.response();
    assert_eq!(initialized["id"], 1, "{initialized}");
    assert!(initialized["result"]["capabilities"].is_object(), "{initialized}");
    server.send(json!({"jsonrpc": "2.0", "method": "initialized", "params": {}}));

    // Not a number.
    server.send_raw(b"Content-Length: twelve\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":71,\"method\":\"kfl/none\"}");
    // Shorter than the body: the rest of the JSON is where the next header should be.
    server.send_raw(b"Content-Length: 20\r\n\r\n{\"jsonrpc\":\"2.0\",\"id\":72,\"method\":\"kfl/none\"}");
    server.send(request(3, "kfl/noSuchMethod", json!({})));
    // Garbage between messages.
    server.send_raw(b"\x00\xffnot a header\r\n");
    server.send(request(2, "shutdown", Value::Null));
    let mut answers = Vec::new();
    loop {
        let response = server.response();
        if response["id"] == 2 {
            assert_eq!(response.get("result"), Some(&Value::Null), "{response}");
            break;
        }
        answers.push((response["id"].clone(), response["error"]["code"].clone()));
    }
    let expected = [
        (json!(71), json!(-32600)),
        (json!(72), json!(-32600)),
        (json!(3), json!(-32601)),
        (Value::Null, json!(-32700)),
    ];
    // The server answers requests concurrently: only the transport's own answers keep their order.
    assert_eq!(answers.len(), expected.len(), "{answers:?}");
    assert!(expected.iter().all(|answer| answers.contains(answer)), "{answers:?}");
    server.send(json!({"jsonrpc": "2.0", "method": "exit"}));
    let status = server.child.wait().expect("the server exits");
    assert!(status.success(), "{status}");
}
