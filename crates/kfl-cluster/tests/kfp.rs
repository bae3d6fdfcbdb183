//! `kflc apply --backend kfp` against recorded Kubeflow Pipelines v2beta1 responses, served by a
//! fake HTTP server on 127.0.0.1 in the test.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use common::{pipeline, run};
use kfl_cluster::{ApplyArgs, Backend};
use serde_json::{json, Value as Json};

/// Serves one canned answer per request, in order; returns (request line, body) of each.
fn fake_kfp(answers: Vec<(u16, Json)>) -> (String, std::thread::JoinHandle<Vec<(String, String)>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let server = std::thread::spawn(move || {
        let mut seen = Vec::new();
        for (status, answer) in answers {
            let (stream, _) = listener.accept().expect("accept");
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut line = String::new();
            reader.read_line(&mut line).expect("request line");
            let mut length = 0;
            loop {
                let mut header = String::new();
                reader.read_line(&mut header).expect("header");
                if header.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = header.split_once(':') {
                    if k.eq_ignore_ascii_case("content-length") {
                        length = v.trim().parse().expect("length");
                    }
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).expect("body");
            seen.push((line.trim().to_string(), String::from_utf8_lossy(&body).to_string()));
            let text = answer.to_string();
            let mut stream = stream;
            write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{text}",
                text.len()
            )
            .expect("answer");
        }
        seen
    });
    (endpoint, server)
}

fn args(endpoint: &str) -> ApplyArgs {
    ApplyArgs { backend: Backend::Kfp, endpoint: Some(endpoint.to_string()), ..Default::default() }
}

fn apply(endpoint: &str) -> (u8, String, String) {
    run(|c| kfl_cluster::apply_with(&args(endpoint), &pipeline("small.kfl", &["rows=42"]), c))
}

#[test]
fn recorded_kfp_api_uploads_a_new_pipeline_then_a_version_and_starts_a_run() {
    let (endpoint, server) = fake_kfp(vec![
        (200, json!({})),
        (200, json!({ "pipeline_id": "p-1", "display_name": "small-training" })),
        (200, json!({ "pipeline_id": "p-1", "pipeline_version_id": "v-9" })),
        (200, json!({ "run_id": "r-5", "state": "PENDING" })),
    ]);
    let (code, out, err) = apply(&endpoint);
    let seen = server.join().expect("server");
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "r-5");
    assert!(err.contains("/#/runs/details/r-5"), "{err}");
    assert!(seen[0].0.starts_with("GET /apis/v2beta1/pipelines?filter="), "{:?}", seen[0]);
    assert!(seen[1].0.starts_with("POST /apis/v2beta1/pipelines/upload?name=small-training"), "{:?}", seen[1]);
    assert!(seen[1].1.contains("name=\"uploadfile\"") && seen[1].1.contains("pipelineInfo"), "{}", seen[1].1);
    assert!(
        seen[2].0.starts_with("POST /apis/v2beta1/pipelines/upload_version?pipelineid=p-1&name=small-training-"),
        "{:?}",
        seen[2]
    );
    assert!(seen[3].0.starts_with("POST /apis/v2beta1/runs "), "{:?}", seen[3]);
    let run: Json = serde_json::from_str(&seen[3].1).expect("run json");
    assert_eq!(run["pipeline_version_reference"], json!({ "pipeline_id": "p-1", "pipeline_version_id": "v-9" }));
    assert_eq!(run["runtime_config"]["parameters"]["rows"], json!(42));
}

#[test]
fn recorded_kfp_api_reuses_an_existing_pipeline_and_reports_a_refusal() {
    let (endpoint, server) = fake_kfp(vec![
        (200, json!({ "pipelines": [{ "pipeline_id": "p-7", "display_name": "small-training" }] })),
        (200, json!({ "pipeline_id": "p-7", "pipeline_version_id": "v-1" })),
        (400, json!({ "error": "Invalid input error: runtime config parameter rows", "code": 3 })),
    ]);
    let (code, _, err) = apply(&endpoint);
    let seen = server.join().expect("server");
    assert_eq!(code, 1, "{err}");
    assert_eq!(seen.len(), 3);
    assert!(seen[1].0.contains("upload_version?pipelineid=p-7"), "{:?}", seen[1]);
    assert!(
        err.contains("Kubeflow Pipelines refused POST /apis/v2beta1/runs (HTTP 400")
            && err.contains("runtime config parameter rows"),
        "{err}"
    );
}

#[test]
fn an_unreachable_kfp_endpoint_is_named() {
    let port = TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let (code, _, err) = apply(&format!("http://127.0.0.1:{port}"));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot reach the Kubeflow Pipelines API at http://127.0.0.1:"), "{err}");
}

/// The uploaded PipelineSpec is emitted with the caller's options, as `kflc build --target kfp`
/// emits it: a component whose (locked) image already has the kfp runtime installs nothing when its
/// pod starts, while the others still install kfp.
#[test]
fn the_uploaded_pipeline_spec_follows_the_callers_kfp_options() {
    let (endpoint, server) = fake_kfp(vec![
        (200, json!({})),
        (200, json!({ "pipeline_id": "p-1", "display_name": "small-training" })),
        (200, json!({ "pipeline_id": "p-1", "pipeline_version_id": "v-9" })),
        (200, json!({ "run_id": "r-5", "state": "PENDING" })),
    ]);
    let mut submitted = pipeline("small.kfl", &["rows=42"]);
    submitted.kfp.kfp_in_image.insert("train".to_string());
    let (code, _, err) = run(|c| kfl_cluster::apply_with(&args(&endpoint), &submitted, c));
    let seen = server.join().expect("server");
    assert_eq!(code, 0, "{err}");
    let uploaded = &seen[1].1;
    let expected = kfl_kfp::to_yaml(&submitted.dag, &submitted.kfp);
    assert!(uploaded.contains(&expected), "the upload is not the backend's document:\n{uploaded}");
    assert_ne!(expected, kfl_kfp::to_yaml(&submitted.dag, &Default::default()), "the options changed nothing");
    let installs = uploaded.matches("pip install").count();
    assert_eq!(installs, 1, "kfp is installed at start by `prepare` only:\n{uploaded}");
}
