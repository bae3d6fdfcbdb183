//! The HTTP API on a real server over a real socket, with requests written byte for byte (no
//! client normalises `..` away): status codes, headers, traversal refusals, live events.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::time::Duration;

use common::{finished_run, scratch, write};

/// Serves `runs` on a free loopback port for the rest of the test process.
fn server(runs: &Path) -> SocketAddr {
    server_at(runs, "127.0.0.1:0")
}

fn server_at(runs: &Path, bind: &'static str) -> SocketAddr {
    let runs = runs.to_path_buf();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("rt");
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind(bind).await.expect("bind");
            tx.send(listener.local_addr().expect("addr")).expect("send");
            let _ = kfl_ui::server::serve_on(listener, runs, true).await;
        });
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("the server starts")
}

struct Answer {
    status: u16,
    head: String,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// One request, sent as written; `host` is the Host header.
fn raw(address: SocketAddr, method: &str, target: &str, host: &str) -> Answer {
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
    write!(stream, "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").expect("send");
    let mut bytes = Vec::new();
    let _ = stream.read_to_end(&mut bytes);
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    Answer { status, head: head.to_string(), body: body.to_string() }
}

fn get(address: SocketAddr, target: &str) -> Answer {
    raw(address, "GET", target, &format!("127.0.0.1:{}", address.port()))
}

fn fixture(name: &str) -> (std::path::PathBuf, SocketAddr) {
    let dir = scratch(name);
    let runs = dir.join("runs");
    finished_run(&runs, "r1", 1);
    write(&dir.join("secret.txt"), "top secret");
    write(&runs.join("r1/report.html"), "<script>alert(1)</script>");
    std::os::unix::fs::symlink(dir.join("secret.txt"), runs.join("r1/make/leak")).expect("symlink");
    std::os::unix::fs::symlink("/etc", runs.join("r1/etc")).expect("symlink");
    std::os::unix::fs::symlink(&dir, runs.join("outside")).expect("symlink");
    let address = server(&runs);
    (dir, address)
}

#[test]
fn pages_and_api_answer_with_security_headers_and_no_cors() {
    let (_dir, address) = fixture("api");
    let index = get(address, "/");
    assert_eq!(index.status, 200);
    assert!(index.body.contains("<script src=\"/app.js\""));
    let csp = index.header("content-security-policy").expect("csp");
    assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(index.header("x-content-type-options").as_deref(), Some("nosniff"));
    assert_eq!(get(address, "/app.js").status, 200);
    let runs = get(address, "/api/runs");
    assert_eq!(runs.status, 200);
    let list: serde_json::Value = serde_json::from_str(&runs.body).expect("json");
    assert_eq!(list[0]["id"], "r1");
    assert!(!runs.head.to_ascii_lowercase().contains("access-control-"), "{}", runs.head);
    let run = get(address, "/api/runs/r1");
    assert_eq!(run.status, 200);
    let view: serde_json::Value = serde_json::from_str(&run.body).expect("json");
    assert_eq!(view["tasks"][1]["name"], "train");
    assert_eq!(view["tasks"][1]["place"]["layer"], 1);
    let task = get(address, "/api/runs/r1/instances/make");
    assert_eq!(task.status, 200);
    assert!(task.body.contains("\"cache_key\":\"abc123\""), "{}", task.body);
    let compared = get(address, "/api/compare?runs=r1,..,%2e%2e,nope,outside");
    assert_eq!(compared.status, 200);
    let list: serde_json::Value = serde_json::from_str(&compared.body).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["run"]["id"], "r1");
    assert_eq!(get(address, "/api/runs/nope").status, 404);
    assert_eq!(get(address, "/api/runs/r1/instances/nope").status, 404);
    // Lineage across runs: an instance of a run alone has none; an unknown one is not found.
    let lineage = get(address, "/api/runs/r1/lineage/make");
    assert_eq!(lineage.status, 200);
    let lineage: serde_json::Value = serde_json::from_str(&lineage.body).expect("json");
    assert_eq!(
        (lineage["made_by"].clone(), lineage["elsewhere"].clone()),
        (serde_json::Value::Null, serde_json::json!([]))
    );
    assert_eq!(get(address, "/api/runs/r1/lineage/nope").status, 404);
    assert_eq!(get(address, "/nothing/here").status, 404);
}

#[test]
fn logs_come_in_capped_windows() {
    let (dir, address) = fixture("logs");
    let log = get(address, "/api/runs/r1/log/make/stdout");
    assert_eq!(log.status, 200);
    let window: serde_json::Value = serde_json::from_str(&log.body).expect("json");
    assert_eq!(window["text"], "made 2 rows\n");
    // A big log: only the window is sent, however large the limit asked.
    let big = dir.join("runs/r1/make/stderr.log");
    let file = std::fs::File::create(&big).expect("create");
    file.set_len(3 * 1024 * 1024 * 1024).expect("a sparse 3 GiB log");
    let tail = get(address, "/api/runs/r1/log/make/stderr?limit=99999999999");
    assert_eq!(tail.status, 200);
    let window: serde_json::Value = serde_json::from_str(&tail.body).expect("json");
    assert_eq!(window["size"], 3u64 * 1024 * 1024 * 1024);
    assert!(tail.body.len() < 8 * 1024 * 1024, "{} bytes", tail.body.len());
    let from = get(address, "/api/runs/r1/log/make/stdout?offset=5");
    let window: serde_json::Value = serde_json::from_str(&from.body).expect("json");
    assert_eq!(window["text"], "2 rows\n");
    assert_eq!(get(address, "/api/runs/r1/log/make/passwd").status, 404);
    // No log written yet: an empty window, not an error.
    assert_eq!(get(address, "/api/runs/r1/log/train/stdout").status, 200);
}

#[test]
fn previews_and_downloads() {
    let (_dir, address) = fixture("files");
    let preview = get(address, "/api/runs/r1/preview/make/outputs/artifacts/dataset");
    assert_eq!(preview.status, 200);
    let value: serde_json::Value = serde_json::from_str(&preview.body).expect("json");
    assert_eq!(value["preview"]["kind"], "table");
    assert_eq!(value["preview"]["rows"][0], serde_json::json!(["x1", "x2", "label"]));
    let download = get(address, "/api/runs/r1/files/make/outputs/artifacts/dataset");
    assert_eq!(download.status, 200);
    assert!(download.body.starts_with("x1,x2,label\n"));
    assert!(download.header("content-disposition").is_some_and(|d| d.starts_with("attachment")));
    // HTML is served sandboxed, inline only when asked, never as the app's own page.
    let html = get(address, "/api/runs/r1/files/report.html?inline=1");
    assert_eq!(html.status, 200);
    assert!(html.header("content-security-policy").is_some_and(|c| c.starts_with("sandbox")), "{}", html.head);
    assert_eq!(html.header("content-disposition").as_deref(), Some("inline"));
    let csv_inline = get(address, "/api/runs/r1/files/make/outputs/artifacts/dataset?inline=1");
    assert!(csv_inline.header("content-disposition").is_some_and(|d| d.starts_with("attachment")));
}

#[test]
fn no_path_outside_the_runs_root_is_served() {
    let (_dir, address) = fixture("traversal");
    let attempts = [
        "/api/runs/r1/files/../../secret.txt",
        "/api/runs/r1/files/make/../../../secret.txt",
        "/api/runs/r1/files/%2e%2e/%2e%2e/secret.txt",
        "/api/runs/r1/files/%2E%2E%2F%2E%2E%2Fsecret.txt",
        "/api/runs/r1/files/..%2f..%2fsecret.txt",
        "/api/runs/%2e%2e/files/secret.txt",
        "/api/runs/..%2F/files/secret.txt",
        "/api/runs/r1/files/%2fetc%2fpasswd",
        "/api/runs/r1/files//etc/passwd",
        "/api/runs/r1/files/make/leak",
        "/api/runs/r1/files/etc/passwd",
        "/api/runs/outside/files/secret.txt",
        "/api/runs/outside",
        "/api/runs/r1/preview/make/leak",
        "/api/runs/r1/preview/%2e%2e/%2e%2e/secret.txt",
        "/api/runs/r1/instances/%2e%2e",
        "/api/runs/r1/lineage/%2e%2e",
        "/api/runs/r1/lineage/..%2fr1%2fmake",
        "/api/runs/%2e%2e/lineage/make",
        "/api/runs/r1/log/%2e%2e/stdout",
        "/api/runs/r1/files/make%00/stdout.log",
        "/api/runs/r1/files/..\\..\\secret.txt",
        "/../secret.txt",
        "/api/runs/r1/files/%c0%ae%c0%ae/secret.txt",
    ];
    for target in attempts {
        let answer = get(address, target);
        assert!(answer.status == 404 || answer.status == 400, "{target}: {}", answer.status);
        assert!(!answer.body.contains("top secret") && !answer.body.contains("root:"), "{target}");
    }
    // Absolute-form request targets name no file either.
    let absolute = get(address, "http://127.0.0.1/etc/passwd");
    assert!(!absolute.body.contains("root:"));
    // The link kflc run makes to the last run points inside and is followed.
    assert_eq!(get(address, "/api/runs/r1/files/make/stdout.log").status, 200);
}

#[test]
fn other_hosts_and_writing_methods_are_refused() {
    let (dir, address) = fixture("hosts");
    // DNS rebinding: a page of evil.example resolving to 127.0.0.1 sends its own name.
    assert_eq!(raw(address, "GET", "/api/runs", "evil.example").status, 421);
    assert_eq!(raw(address, "GET", "/api/runs", &format!("localhost:{}", address.port())).status, 200);
    // Another loopback address answers to its own name.
    let other = server_at(&dir.join("runs"), "127.0.0.2:0");
    assert_eq!(raw(other, "GET", "/api/runs", &other.to_string()).status, 200);
    assert_eq!(raw(other, "GET", "/api/runs", "evil.example").status, 421);
    // A POST without the app's token is refused before any route is looked at.
    let post = raw(address, "POST", "/api/runs", &format!("127.0.0.1:{}", address.port()));
    assert_eq!(post.status, 403);
    let delete = raw(address, "DELETE", "/api/runs/r1", &format!("127.0.0.1:{}", address.port()));
    assert_eq!(delete.status, 405);
}

#[test]
fn live_updates_arrive_as_server_sent_events() {
    let dir = scratch("events");
    let runs = dir.join("runs");
    write(&runs.join("r/run.json"), r#"{"status": "running", "pipeline": "p", "graph": [{"name": "a", "after": []}]}"#);
    let address = server(&runs);
    let mut stream = TcpStream::connect(address).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(15))).expect("timeout");
    write!(
        stream,
        "GET /api/runs/r/events HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
        address.port()
    )
    .expect("send");
    let mut seen = String::new();
    let mut buffer = [0u8; 4096];
    let mut wrote_task = false;
    let mut finished = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        let n = stream.read(&mut buffer).unwrap_or(0);
        if n == 0 {
            break;
        }
        seen.push_str(&String::from_utf8_lossy(&buffer[..n]));
        if !wrote_task && seen.contains("\"a\":\"pending\"") {
            write(&runs.join("r/a/manifest.json"), r#"{"task": "a", "status": "running"}"#);
            wrote_task = true;
        }
        if wrote_task && !finished && seen.contains("\"a\":\"running\"") {
            write(
                &runs.join("r/run.json"),
                r#"{"status": "succeeded", "pipeline": "p", "graph": [{"name": "a", "after": []}]}"#,
            );
            write(&runs.join("r/a/manifest.json"), r#"{"task": "a", "status": "succeeded"}"#);
            finished = true;
        }
        if seen.contains("event: end") {
            break;
        }
    }
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(seen.contains("event: state"), "{seen}");
    assert!(seen.contains("\"a\":\"pending\""), "{seen}");
    assert!(seen.contains("\"a\":\"running\""), "{seen}");
    assert!(seen.contains("\"status\":\"succeeded\",\"tasks\":{\"a\":\"succeeded\"}"), "{seen}");
    // Then the end, so that the browser closes instead of reconnecting, and the stream closes.
    assert!(seen.contains("event: end\ndata: finished"), "{seen}");
    let started = std::time::Instant::now();
    let mut rest = Vec::new();
    let _ = stream.read_to_end(&mut rest);
    seen.push_str(&String::from_utf8_lossy(&rest));
    assert!(seen.ends_with("\r\n0\r\n\r\n"), "the chunked body ends: {seen}");
    assert!(started.elapsed() < Duration::from_secs(5), "the server closed the stream");
}

/// A request with extra headers.
fn send(address: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)]) -> Answer {
    let mut extra = String::new();
    for (k, v) in headers {
        extra.push_str(&format!("{k}: {v}\r\n"));
    }
    raw(address, method, target, &format!("127.0.0.1:{}\r\n{extra}Content-Length: 0", address.port()))
}

#[test]
fn cancelling_needs_the_token_and_the_origin_and_signals_only_the_lock_holder() {
    let dir = scratch("cancel");
    let runs = dir.join("runs");
    let run = runs.join("r");
    write(&run.join("run.json"), r#"{"status": "running", "pipeline": "p", "graph": []}"#);
    write(&run.join("run.lock"), "0\n");
    finished_run(&runs, "done", 1);
    let address = server(&runs);
    let session = get(address, "/api/session");
    let token: serde_json::Value = serde_json::from_str(&session.body).expect("json");
    let token = token["token"].as_str().expect("a token").to_string();
    assert_eq!(token.len(), 32);
    let origin = format!("http://127.0.0.1:{}", address.port());

    // The lock holder: a process that takes the write flock itself and writes its pid in run.lock.
    let lock = run.join("run.lock");
    let mut holder = std::process::Command::new("python3")
        .args(["-c", "import fcntl, os, sys, time\nf = open(sys.argv[1], 'a')\nfcntl.flock(f, fcntl.LOCK_EX)\nopen(sys.argv[1], 'w').write(str(os.getpid()))\nprint('locked', flush=True)\ntime.sleep(60)"])
        .arg(&lock)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3");
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().expect("stdout")), &mut line)
        .expect("read");
    assert_eq!(line.trim(), "locked");

    // No token, a wrong one, another origin: refused, and nothing is signalled.
    let target = "/api/runs/r/cancel";
    assert_eq!(send(address, "POST", target, &[]).status, 403);
    assert_eq!(send(address, "POST", target, &[("x-kfl-token", "0123")]).status, 403);
    assert_eq!(
        send(address, "POST", target, &[("x-kfl-token", &token), ("Origin", "http://evil.example")]).status,
        403
    );
    assert_eq!(send(address, "POST", target, &[("x-kfl-token", &token), ("Origin", "null")]).status, 403);
    assert_eq!(send(address, "DELETE", target, &[("x-kfl-token", &token)]).status, 405);
    assert!(holder.try_wait().expect("wait").is_none(), "nothing was signalled");
    // A run that is not running, and traversal: no.
    assert_eq!(send(address, "POST", "/api/runs/done/cancel", &[("x-kfl-token", &token)]).status, 409);
    assert_eq!(send(address, "POST", "/api/runs/%2e%2e/cancel", &[("x-kfl-token", &token)]).status, 404);

    // A pid that does not hold the lock (an unrelated process that reused a number): not signalled.
    let mut bystander = std::process::Command::new("sleep").arg("60").spawn().expect("sleep");
    let real = std::fs::read_to_string(&lock).expect("read");
    std::fs::write(&lock, bystander.id().to_string()).expect("write");
    let refused = send(address, "POST", target, &[("x-kfl-token", &token), ("Origin", &origin)]);
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert!(refused.body.contains("does not hold the run's lock"), "{}", refused.body);
    assert!(bystander.try_wait().expect("wait").is_none());
    let _ = bystander.kill();
    let _ = bystander.wait();

    // The token and the page's origin: the lock holder gets SIGTERM.
    std::fs::write(&lock, real).expect("write");
    let done = send(address, "POST", target, &[("x-kfl-token", &token), ("Origin", &origin)]);
    assert_eq!(done.status, 200, "{}", done.body);
    let status = holder.wait().expect("wait");
    assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(15));
}
