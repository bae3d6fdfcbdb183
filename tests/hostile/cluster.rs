//! The cluster commands against hostile servers and incomplete command lines (issue 12, items 9
//! and 13): a parameter without a value is refused before anything connects, and a server that
//! accepts connections and never answers is given up on after `--timeout`, for both backends.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{kflc_in, tempdir};

/// `kflc` run from the clone's root, where `examples/` is.
fn kflc(args: &[&str]) -> (i32, String, String) {
    kflc_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, &[], Duration::from_secs(60))
}

/// A kubeconfig whose cluster is `server` (no credentials).
fn kubeconfig_for(dir: &Path, server: &str) -> PathBuf {
    let path = dir.join("kubeconfig");
    let text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: c\n  cluster:\n    server: {server}\n\
         contexts:\n- name: c\n  context:\n    cluster: c\n    user: u\nusers:\n- name: u\n  user: {{}}\n"
    );
    std::fs::write(&path, text).expect("kubeconfig");
    path
}

#[test]
fn apply_refuses_a_parameter_without_a_value_before_connecting() {
    // A listener stands where the cluster (Argo) and the KFP endpoint are: the refusal must come
    // before any connection to it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
    listener.set_nonblocking(true).expect("non-blocking");
    let server = format!("http://{}", listener.local_addr().expect("address"));
    let dir = tempdir("apply-missing");
    let kubeconfig = kubeconfig_for(&dir, &server);
    let kubeconfig = kubeconfig.to_str().expect("a UTF-8 path");
    for backend in [vec!["--kubeconfig", kubeconfig], vec!["--backend", "kfp", "--endpoint", &server]] {
        for command in ["apply", "plan"] {
            if command == "plan" && backend[0] == "--backend" {
                continue;
            }
            let args = [&[command, "examples/simple_training.kfl"][..], &backend].concat();
            let (code, stdout, stderr) = kflc(&args);
            assert_eq!(code, 2, "{args:?}: {stderr}");
            assert!(stdout.is_empty(), "{stdout}");
            assert!(
                stderr.starts_with(
                    "error[E0220]: the pipeline parameter `data_url: String` has no default and no --param value\n  \
                     help: add `--param data_url=…` to the command line"
                ),
                "{args:?}: {stderr}"
            );
            let action = if command == "apply" { "submitted" } else { "planned" };
            assert!(stderr.ends_with(&format!("nothing was {action}\n")), "{stderr}");
            let connection = listener.accept();
            assert!(connection.is_err(), "{args:?} connected before refusing");
        }
    }
    // A List parameter's value is JSON: the help says so.
    let file = dir.join("sweep.kfl");
    std::fs::write(
        &file,
        "component fit {\n    input  sizes: List<Int>\n    output model: Model\n    python \"\"\"\n        \
         open(model.path, \"w\").write(str(sizes))\n    \"\"\"\n}\n\npipeline sweep(sizes: List<Int>) {\n    \
         f = fit(sizes: sizes)\n    output model = f.model\n}\n",
    )
    .expect("write");
    let (code, _, stderr) = kflc(&["apply", file.to_str().expect("UTF-8"), "--kubeconfig", kubeconfig]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("help: add `--param sizes='[…]'`"), "{stderr}");
    assert!(listener.accept().is_err(), "connected before refusing");
    let _ = std::fs::remove_dir_all(&dir);
}

/// A server that accepts every connection and never answers: the connections are kept open, and
/// nothing is read or written. Returns its `http://` address; the thread ends with the test binary.
fn silent_server() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a local port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    std::thread::spawn(move || {
        let mut kept = Vec::new();
        for stream in listener.incoming().flatten() {
            kept.push(stream);
        }
    });
    address
}

#[test]
fn apply_gives_up_on_a_server_that_never_answers() {
    let server = silent_server();
    let dir = tempdir("apply-silent");
    let kubeconfig = kubeconfig_for(&dir, &server);
    let kubeconfig = kubeconfig.to_str().expect("a UTF-8 path");
    let file = "examples/quickstart.kfl";
    // Argo through the Kubernetes API, with and without the node capacity check (its own request
    // comes first), and Kubeflow Pipelines through its REST API.
    let cases: [(&[&str], &str); 3] = [
        (&["--kubeconfig", kubeconfig], "reading the nodes' capacity"),
        (&["--kubeconfig", kubeconfig, "--skip-capacity-check"], "submitting run `quickstart-"),
        (&["--backend", "kfp", "--endpoint", &server], "uploading the pipeline and starting a run"),
    ];
    for (flags, doing) in cases {
        let args = [&["apply", file, "--timeout", "1"][..], flags].concat();
        let (code, stdout, stderr) = kflc(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{stdout}");
        let host = server.trim_start_matches("http://");
        assert!(
            stderr.starts_with("error: no answer from the ")
                && stderr.contains(host)
                && stderr.contains("within 1 s ("),
            "{args:?}: {stderr}"
        );
        assert!(stderr.contains(doing), "{args:?}: {stderr}");
        assert!(stderr.trim_end().ends_with("or allow more time with --timeout SECONDS"), "{stderr}");
    }
    // Zero is no limit a user can mean.
    let (code, _, stderr) = kflc(&["apply", file, "--timeout", "0", "--kubeconfig", kubeconfig]);
    assert_eq!(code, 2, "{stderr}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_cluster_command_gives_up_on_a_server_that_never_answers() {
    let server = silent_server();
    let dir = tempdir("cluster-silent");
    let kubeconfig = kubeconfig_for(&dir, &server);
    let kubeconfig = kubeconfig.to_str().expect("a UTF-8 path");
    let cases: [(&[&str], &str); 5] = [
        (&["plan", "examples/quickstart.kfl"], "(planning a run)"),
        (&["runs"], "(listing runs)"),
        (&["status", "r1"], "(reading run `r1`)"),
        (&["delete", "r1"], "(deleting run `r1`; it may or may not be deleted)"),
        (&["logs", "r1"], "(reading the logs of run `r1`)"),
    ];
    for (command, doing) in cases {
        let args = [command, &["--timeout", "1", "--kubeconfig", kubeconfig]].concat();
        let (code, stdout, stderr) = kflc(&args);
        assert_eq!(code, 1, "{args:?}: {stderr}");
        assert!(stdout.is_empty() || command[0] == "plan", "{stdout}");
        assert!(
            stderr.starts_with("error: no answer from the Kubernetes API server at ")
                && stderr.contains(&format!("within 1 s {doing}")),
            "{args:?}: {stderr}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
