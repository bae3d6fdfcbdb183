//! Item 6: a credential planted in a kubeconfig, in an exec plugin's arguments, environment and
//! output, or echoed back by a server, never reaches kflc's output, whatever goes wrong: every
//! cluster command is run on every case and all of stdout and stderr is searched for it.

use std::io::{Read, Write};
use std::time::Duration;

use super::{kflc_in, tempdir};

/// A pipeline that checks and needs no `--param`.
const PIPELINE: &str = "component step {\n    input n: Int = 1\n    python \"\"\"\n        print(n)\n    \"\"\"\n}\n\n\
                        pipeline p(n: Int = 2) {\n    s = step(n: n)\n}\n";

/// The planted credential.
const TOKEN: &str = "kfl-planted-token-8d2e71";

/// A server that answers every request 401, quoting the request's `Authorization` header back, as a
/// careless proxy does. Returns its `http://` address.
fn echoing_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut request = Vec::new();
            let mut buffer = [0u8; 4096];
            while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => request.extend_from_slice(&buffer[..n]),
                }
            }
            let request = String::from_utf8_lossy(&request);
            let header = request
                .lines()
                .find(|l| l.to_ascii_lowercase().starts_with("authorization:"))
                .unwrap_or("no Authorization header")
                .replace('"', "'");
            let body = format!(
                "{{\"kind\":\"Status\",\"apiVersion\":\"v1\",\"status\":\"Failure\",\"message\":\"refused {header}\",\
                 \"reason\":\"Unauthorized\",\"code\":401}}"
            );
            let _ = write!(
                stream,
                "HTTP/1.1 401 Unauthorized\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    address
}

fn kubeconfig(server: &str, user: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: {server}\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\n    namespace: ml\nusers:\n- name: u\n  user:\n{user}"
    )
}

/// An exec plugin block running `sh -c SCRIPT`, with the token also in its arguments and environment.
fn exec_user(script: &str) -> String {
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: sh\n      args:\n      - -c\n      \
         - '{script}'\n      - plugin\n      - --token={TOKEN}\n      env:\n      - name: PLUGIN_SECRET\n        value: {TOKEN}\n"
    )
}

#[test]
fn a_planted_credential_never_appears_in_any_output() {
    let server = echoing_server();
    let dir = tempdir("credentials");
    std::fs::write(dir.join("p.kfl"), PIPELINE).expect("pipeline");
    let cases: Vec<(&str, String)> = vec![
        // Broken YAML right after the token: the YAML error quotes the lines around it.
        ("bad YAML after the token", kubeconfig(&server, &format!("    token: {TOKEN}\n    password: [unclosed\n"))),
        // The token where a map belongs: serde quotes the value it did not expect.
        ("a token where a map belongs", kubeconfig(&server, "").replace("  user:\n", &format!("  user: {TOKEN}\n"))),
        // A bad client key: the TLS error may quote it.
        (
            "a client key that is no key",
            kubeconfig(&server, &format!("    client-key-data: {TOKEN}\n    client-certificate-data: {TOKEN}\n")),
        ),
        // An exec plugin that prints the token on both outputs and fails.
        ("a failing exec plugin", kubeconfig(&server, &exec_user(&format!("echo {TOKEN}; echo {TOKEN} >&2; exit 1")))),
        // An exec plugin whose output is not an ExecCredential but holds the token.
        (
            "an exec plugin printing a broken credential",
            kubeconfig(&server, &exec_user(&format!("echo {{\"status\": {{\"token\": \"{TOKEN}\", broken"))),
        ),
        // A plugin that works: the token is sent, and the server quotes it back in its 401.
        (
            "a server quoting the Authorization header",
            kubeconfig(
                &server,
                &exec_user(&format!(
                    "echo {{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{TOKEN}\"}}}}"
                )),
            ),
        ),
        // A static token with a server quoting it back.
        ("a static token quoted back", kubeconfig(&server, &format!("    token: {TOKEN}\n"))),
        ("a password quoted back", kubeconfig(&server, &format!("    username: admin\n    password: {TOKEN}\n"))),
    ];
    let commands: [&[&str]; 7] = [
        &["apply", "p.kfl", "--timeout", "10"],
        &["apply", "p.kfl", "--timeout", "10", "--skip-capacity-check", "--dry-run"],
        &["plan", "p.kfl"],
        &["runs"],
        &["status", "some-run"],
        &["delete", "some-run"],
        &["logs", "some-run"],
    ];
    let mut leaks = Vec::new();
    let mut answered = 0;
    for (what, text) in &cases {
        let path = dir.join("kubeconfig");
        std::fs::write(&path, text).expect("kubeconfig");
        for command in commands {
            // By --kubeconfig and by KUBECONFIG.
            for by_flag in [true, false] {
                let path = path.to_str().expect("a UTF-8 path");
                let mut args = command.to_vec();
                let env: Vec<(&str, &str)> = if by_flag {
                    args.extend(["--kubeconfig", path]);
                    vec![]
                } else {
                    vec![("KUBECONFIG", path)]
                };
                let (status, stdout, stderr) = kflc_in(&dir, &args, &env, Duration::from_secs(60));
                if stdout.contains(TOKEN) || stderr.contains(TOKEN) {
                    leaks.push(format!("{what}: `kflc {}`:\n{stdout}{stderr}", args.join(" ")));
                }
                // Every case fails, with a message.
                assert_ne!(status, 0, "{what}: `kflc {}` succeeded:\n{stdout}{stderr}", args.join(" "));
                assert!(stderr.contains("error: "), "{what}: `kflc {}`:\n{stderr}", args.join(" "));
                if stderr.contains("did not accept the credentials") {
                    answered += 1;
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(leaks.is_empty(), "the planted token was printed:\n{}", leaks.join("\n---\n"));
    // The server did see the token and quote it back (else the last cases test nothing).
    assert!(answered > 0, "no command reached the server that quotes the Authorization header");
}

#[test]
fn the_token_is_really_planted_where_the_scan_must_find_it() {
    // kflc reads the kubeconfig given by path; a relative one must work as well as an absolute one.
    let dir = tempdir("credentials-relative");
    std::fs::write(
        dir.join("kubeconfig"),
        kubeconfig("http://127.0.0.1:9", &format!("    token: {TOKEN}\n    password: [unclosed\n")),
    )
    .expect("kubeconfig");
    let (status, stdout, stderr) = kflc_in(&dir, &["runs", "--kubeconfig", "kubeconfig"], &[], Duration::from_secs(60));
    assert_eq!(status, 2, "{stderr}");
    assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN), "{stdout}{stderr}");
    // The message still says what is wrong and where.
    assert!(stderr.contains("failed to parse kubeconfig YAML") && stderr.contains("line 18"), "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}
