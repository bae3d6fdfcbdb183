//! `kflc apply --backend kfp --endpoint URL`: Kubeflow Pipelines over its REST API (v2beta1).
//!
//! 1. `GET /apis/v2beta1/pipelines?filter=…` finds the pipeline by name (its Kubernetes name);
//! 2. if there is none, `POST /apis/v2beta1/pipelines/upload?name=…` creates it (multipart
//!    `uploadfile`, the PipelineSpec YAML);
//! 3. `POST /apis/v2beta1/pipelines/upload_version?pipelineid=…&name=<run name>` uploads this
//!    PipelineSpec as a new version, named like the run;
//! 4. `POST /apis/v2beta1/runs` starts a run of that version with the `--param` values.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use serde_json::{json, Value as Json};

use crate::project::Pipeline;
use crate::{ApplyArgs, Console};

type HttpClient = hyper_util::client::legacy::Client<
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>,
    Full<Bytes>,
>;

fn client() -> Result<HttpClient, String> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(rustls::crypto::ring::default_provider())
        .map_err(|e| format!("cannot load the system's root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build();
    Ok(hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build(connector))
}

/// One REST call; the JSON answer, or an error naming the call and what the server said.
async fn call(
    client: &HttpClient,
    endpoint: &str,
    method: &str,
    path_and_query: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Result<Json, String> {
    let url = format!("{}{path_and_query}", endpoint.trim_end_matches('/'));
    let request = http::Request::builder()
        .method(method)
        .uri(&url)
        .header("content-type", content_type)
        .header("accept", "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("bad Kubeflow Pipelines endpoint `{endpoint}`: {e}"))?;
    let response = client.request(request).await.map_err(|e| {
        format!("cannot reach the Kubeflow Pipelines API at {endpoint}: {e}; check --endpoint (e.g. kubectl port-forward svc/ml-pipeline-ui 8080:80)")
    })?;
    let status = response.status();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the answer to {method} {path_and_query}: {e}"))?
        .to_bytes();
    let answer: Json =
        serde_json::from_slice(&bytes).unwrap_or_else(|_| Json::String(String::from_utf8_lossy(&bytes).into()));
    if !status.is_success() {
        let message = answer
            .get("message")
            .or_else(|| answer.get("error"))
            .and_then(Json::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| answer.to_string());
        let hint = match status.as_u16() {
            401 | 403 => "; the endpoint needs credentials kflc does not send (use a port-forward to the API server)",
            404 => "; is this a Kubeflow Pipelines 2.x API server?",
            _ => "",
        };
        return Err(format!("Kubeflow Pipelines refused {method} {path_and_query} (HTTP {status}): {message}{hint}"));
    }
    Ok(answer)
}

fn multipart(name: &str, yaml: &str) -> (String, Vec<u8>) {
    let boundary = "kflc-boundary-7d1f0c";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"uploadfile\"; filename=\"{name}.yaml\"\r\n\
         Content-Type: application/x-yaml\r\n\r\n{yaml}\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub async fn apply(args: &ApplyArgs, pipeline: &Pipeline, console: &mut Console<'_>) -> u8 {
    let Some(endpoint) = args.endpoint.as_deref() else {
        let _ = writeln!(console.err, "error: --backend kfp needs --endpoint URL (the Kubeflow Pipelines API server)");
        return 2;
    };
    if args.dry_run_server || args.wait {
        let _ = writeln!(console.err, "error: --dry-run and --wait are not supported with --backend kfp yet");
        return 2;
    }
    // One limit for every request of the submission, the connection included (the first makes it).
    let limit = args.timeout.unwrap_or(crate::DEFAULT_TIMEOUT);
    let submitted = match tokio::time::timeout(limit, submit(endpoint, args, pipeline)).await {
        Ok(submitted) => submitted,
        Err(_) => {
            let error = crate::ClusterError::TimedOut {
                server: format!("the Kubeflow Pipelines API at {}", endpoint.trim_end_matches('/')),
                doing: "uploading the pipeline and starting a run; a run may or may not have been started".to_string(),
                limit,
            };
            let _ = writeln!(console.err, "error: {}", crate::redact::scrub(&error.to_string()));
            return error.exit_code();
        }
    };
    match submitted {
        Ok((run_id, run_name)) => {
            let _ = writeln!(console.out, "{run_id}");
            let _ = writeln!(
                console.err,
                "started Kubeflow Pipelines run `{run_name}` (id {run_id}): {}/#/runs/details/{run_id}",
                endpoint.trim_end_matches('/')
            );
            0
        }
        Err(message) => {
            let _ = writeln!(console.err, "error: {}", crate::redact::scrub(&message));
            if message.starts_with("cannot reach") {
                2
            } else {
                1
            }
        }
    }
}

/// Uploads and starts a run; returns (run id, run name).
pub async fn submit(endpoint: &str, args: &ApplyArgs, pipeline: &Pipeline) -> Result<(String, String), String> {
    let (dag, given) = (&pipeline.dag, &pipeline.given);
    // The caller's options, so that what is uploaded is what `kflc build --target kfp` writes.
    let backend = kfl_kfp::KfpBackend { options: pipeline.kfp.clone() };
    let yaml = kfl_dag::backend::Backend::emit(&backend, dag).map_err(|e| e.to_string())?.text;
    let run_name =
        args.name.clone().unwrap_or_else(|| crate::project::run_name(&dag.k8s_name, std::time::SystemTime::now()));
    let client = client()?;
    let pipeline = &dag.k8s_name;
    let filter =
        json!({ "predicates": [{ "key": "name", "operation": "EQUALS", "string_value": pipeline }] }).to_string();
    let found = call(
        &client,
        endpoint,
        "GET",
        &format!("/apis/v2beta1/pipelines?filter={}", encode(&filter)),
        "application/json",
        vec![],
    )
    .await?;
    let existing = found
        .get("pipelines")
        .and_then(Json::as_array)
        .and_then(|p| {
            p.iter()
                .find(|p| p.get("display_name").or_else(|| p.get("name")).and_then(Json::as_str) == Some(pipeline))
                .or(p.first())
        })
        .and_then(|p| p.get("pipeline_id"))
        .and_then(Json::as_str)
        .map(str::to_string);
    let pipeline_id = match existing {
        Some(id) => id,
        None => {
            let (content_type, body) = multipart(pipeline, &yaml);
            let created = call(
                &client,
                endpoint,
                "POST",
                &format!("/apis/v2beta1/pipelines/upload?name={}&display_name={}", encode(pipeline), encode(pipeline)),
                &content_type,
                body,
            )
            .await?;
            created
                .get("pipeline_id")
                .and_then(Json::as_str)
                .ok_or_else(|| format!("the pipeline upload answered without a pipeline_id: {created}"))?
                .to_string()
        }
    };
    let (content_type, body) = multipart(&run_name, &yaml);
    let version = call(
        &client,
        endpoint,
        "POST",
        &format!(
            "/apis/v2beta1/pipelines/upload_version?pipelineid={}&name={}",
            encode(&pipeline_id),
            encode(&run_name)
        ),
        &content_type,
        body,
    )
    .await?;
    let version_id = version
        .get("pipeline_version_id")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("the version upload answered without a pipeline_version_id: {version}"))?;
    let mut parameters = serde_json::Map::new();
    for name in given {
        if let Some(value) = dag.params.iter().find(|p| &p.name == name).and_then(|p| p.default.as_ref()) {
            parameters.insert(name.clone(), value.to_json());
        }
    }
    let run = json!({
        "display_name": run_name,
        "description": format!("kflc apply {}", dag.source),
        "pipeline_version_reference": { "pipeline_id": pipeline_id, "pipeline_version_id": version_id },
        "runtime_config": { "parameters": parameters },
    });
    let created =
        call(&client, endpoint, "POST", "/apis/v2beta1/runs", "application/json", run.to_string().into_bytes()).await?;
    let run_id = created
        .get("run_id")
        .and_then(Json::as_str)
        .ok_or_else(|| format!("the run creation answered without a run_id: {created}"))?;
    Ok((run_id.to_string(), run_name))
}
