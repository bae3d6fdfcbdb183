//! The shape of the emitted Workflows: shared templates, conditions, loops, fan-in, the exit
//! handler, parameters, and where user values may and may not land.

mod common;

use kfl_argo::{to_yaml, workflow, ArgoBackend, ArgoError, ArgoOptions, MAX_WORKFLOW_BYTES};
use kfl_check::Database;
use kfl_dag::backend::Backend;
use serde_json::Value as Json;

fn example(path: &str, pipeline: &str) -> Json {
    let (db, _) = common::examples();
    let dag = common::lower(&db, path, pipeline);
    workflow(&dag, &ArgoOptions::default()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn from_source(source: &str) -> Result<Json, ArgoError> {
    let mut db = Database::default();
    let file = db.set_file("test.kfl", source.to_string());
    let dag = kfl_project::lower(&db, file, None).unwrap_or_else(|e| panic!("{e}: {:?}", e));
    workflow(&dag, &ArgoOptions::default())
}

fn templates(wf: &Json) -> &Vec<Json> {
    wf["spec"]["templates"].as_array().expect("templates")
}

fn template<'a>(wf: &'a Json, name: &str) -> &'a Json {
    templates(wf).iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no template {name}"))
}

fn dag_tasks(template: &Json) -> &Vec<Json> {
    template["dag"]["tasks"].as_array().expect("a DAG template")
}

fn task<'a>(template: &'a Json, name: &str) -> &'a Json {
    dag_tasks(template).iter().find(|t| t["name"] == name).unwrap_or_else(|| panic!("no task {name}"))
}

fn argument<'a>(task: &'a Json, name: &str) -> &'a str {
    task["arguments"]["parameters"]
        .as_array()
        .and_then(|ps| ps.iter().find(|p| p["name"] == name))
        .and_then(|p| p["value"].as_str())
        .unwrap_or_else(|| panic!("no argument {name} in {task}"))
}

/// Every string in a JSON value, with the path to it.
fn strings<'a>(value: &'a Json, path: String, out: &mut Vec<(String, &'a str)>) {
    match value {
        Json::String(s) => out.push((path, s)),
        Json::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                strings(item, format!("{path}[{i}]"), out);
            }
        }
        Json::Object(map) => {
            for (k, v) in map {
                if k == "dependencies" {
                    out.push((format!("{path}.dependencies"), "dependencies"));
                }
                strings(v, format!("{path}.{k}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn tasks_of_one_component_share_its_template() {
    let wf = example("examples/nested_pipelines.kfl", "daily_scoring");
    let root = template(&wf, "daily-scoring");
    assert_eq!(task(root, "invalid-alert")["template"], "send-alert");
    assert_eq!(task(root, "outlier-alert")["template"], "send-alert");
    let names: Vec<&str> = templates(&wf).iter().filter_map(|t| t["name"].as_str()).collect();
    assert_eq!(names.iter().filter(|n| n.starts_with("send-alert")).count(), 1, "{names:?}");
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "template names are unique: {names:?}");
}

#[test]
fn a_task_whose_overrides_change_its_settings_gets_a_variant_template() {
    let source = r#"
component step {
    image = "alpine:3.20"
    input n: Int
    sh """
        echo "$n"
    """
}

pipeline p() {
    a = step(n: 1)
    b = step(n: 2)
    c = step(n: 3) {
        retries = 2
    }
}
"#;
    let wf = from_source(source).expect("emits");
    let root = template(&wf, "p");
    assert_eq!(task(root, "a")["template"], "step");
    assert_eq!(task(root, "b")["template"], "step");
    assert_eq!(task(root, "c")["template"], "step-2");
    assert_eq!(template(&wf, "step-2")["retryStrategy"]["limit"], "2");
    assert!(template(&wf, "step").get("retryStrategy").is_none());
}

#[test]
fn a_condition_becomes_when_on_the_branch_tasks() {
    let wf = example("examples/simple_training.kfl", "simple_training");
    let root = template(&wf, "simple-training");
    let deploy = task(root, "deploy-model");
    let when = deploy["when"].as_str().expect("when");
    assert!(when.starts_with("{{=") && when.ends_with("}}"), "{when}");
    assert!(when.contains(r#"asFloat(tasks["evaluation"].outputs.parameters["accuracy"]) >= "#), "{when}");
    let notify = task(root, "notify");
    assert!(notify["when"].as_str().expect("else branch").starts_with("{{=!("));
    // Reading the condition's inputs orders the branch after them.
    assert!(deploy["depends"].as_str().expect("depends").contains("evaluation"));
}

#[test]
fn a_loop_expands_over_its_items_with_parallelism() {
    let wf = example("examples/hyperparameter_sweep.kfl", "hyperparameter_sweep");
    let root = template(&wf, "hyperparameter-sweep");
    let loop_task = task(root, "for-loop-1");
    assert_eq!(loop_task["template"], "for-loop-1");
    let wrapper = template(&wf, "for-loop-1");
    assert_eq!(wrapper["parallelism"], 2);
    let iterations = task(wrapper, "iterations");
    assert_eq!(iterations["template"], "for-loop-1-body");
    let items: Vec<&str> =
        iterations["withItems"].as_array().expect("withItems").iter().filter_map(Json::as_str).collect();
    assert_eq!(items, ["[0,0.001]", "[1,0.01]", "[2,0.1]"]);
    assert_eq!(argument(iterations, "lr"), "{{=fromJSON(item)[1]}}");
    // The body reads the loop variable and the data from before the loop.
    let body = template(&wf, "for-loop-1-body");
    let trial = task(body, "trial");
    assert_eq!(argument(trial, "learning_rate"), "{{inputs.parameters.lr}}");
    let artifacts = trial["arguments"]["artifacts"].as_array().expect("artifacts");
    assert!(artifacts.iter().any(|a| a["from"] == "{{inputs.artifacts.data-train_data}}"), "{artifacts:?}");
}

#[test]
fn a_loop_over_a_parameter_uses_with_param() {
    let wf = example("examples/nested_pipelines.kfl", "daily_scoring");
    let root = template(&wf, "daily-scoring");
    let loop_task = task(root, "for-loop-1");
    assert_eq!(argument(loop_task, "kfl-items"), "{{workflow.parameters.regions}}");
    assert!(loop_task["when"].as_str().is_some(), "the loop is inside an if");
    let wrapper = template(&wf, "for-loop-1");
    assert_eq!(wrapper["parallelism"], 3);
    let iterations = task(wrapper, "iterations");
    assert!(iterations["withParam"].as_str().expect("withParam").contains("inputs.parameters['kfl-items']"));
}

#[test]
fn fan_in_reads_aggregated_parameters_and_a_key_prefix_of_artifacts() {
    let wf = example("examples/hyperparameter_sweep.kfl", "hyperparameter_sweep");
    let root = template(&wf, "hyperparameter-sweep");
    let best = task(root, "best");
    assert_eq!(best["depends"], "for-loop-1");
    assert_eq!(
        argument(best, "accuracies"),
        r#"{{=toJson(map(fromJSON(tasks["for-loop-1"].outputs.parameters["trial-accuracy"]), asFloat(#)))}}"#
    );
    assert_eq!(argument(best, "kfl-key-models"), "{{workflow.name}}/for-loop-1/trial/model");
    // Each iteration writes under that prefix, at its index.
    let trial = task(template(&wf, "for-loop-1-body"), "trial");
    assert_eq!(
        argument(trial, "kfl-key-model"),
        "{{inputs.parameters.kfl-scope}}/trial/model/{{inputs.parameters.kfl-index}}"
    );
    // The body and the wrapper export what is read after the loop.
    let exported: Vec<&str> = template(&wf, "for-loop-1")["outputs"]["parameters"]
        .as_array()
        .expect("exports")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert!(exported.contains(&"trial-accuracy") && exported.contains(&"trial-kfl-uri-model"), "{exported:?}");
    let select = template(&wf, "select-best");
    let models = &select["inputs"]["artifacts"][0];
    assert_eq!(models["s3"]["key"], "{{inputs.parameters.kfl-key-models}}");
    // The producer of collected artifacts is never memoized: they must be under this run's prefix.
    assert!(template(&wf, "train-mlp").get("memoize").is_none());
    assert!(select.get("memoize").is_some());
}

#[test]
fn the_exit_handler_is_on_exit() {
    let wf = example("examples/exit_handler.kfl", "nightly_retrain");
    assert_eq!(wf["spec"]["onExit"], "exit-handler-1");
    let exit = template(&wf, "exit-handler-1");
    let cleanup = task(exit, "cleanup-and-notify");
    assert!(cleanup.get("depends").is_none());
    assert_eq!(argument(cleanup, "channel"), "{{workflow.parameters.alert_channel}}");
    assert!(dag_tasks(template(&wf, "nightly-retrain")).iter().all(|t| t["name"] != "cleanup-and-notify"));
}

#[test]
fn settings_become_resources_selectors_secrets_retries_and_deadlines() {
    let wf = example("examples/simple_training.kfl", "simple_training");
    let train = template(&wf, "train-model");
    assert_eq!(train["container"]["resources"]["limits"]["nvidia.com/gpu"], "1");
    assert_eq!(train["container"]["resources"]["requests"]["memory"], "32Gi");
    assert_eq!(train["nodeSelector"]["cloud.google.com/gke-accelerator"], "nvidia-tesla-a100");
    assert_eq!(train["retryStrategy"]["limit"], "2");
    assert_eq!(train["activeDeadlineSeconds"], 6 * 3600);
    assert_eq!(train["tolerations"][0]["operator"], "Exists");
    let deploy = template(&wf, "deploy-model");
    let env = deploy["container"]["env"].as_array().expect("env");
    assert!(env.iter().any(|e| e["valueFrom"]["secretKeyRef"]["name"] == "acme-deployer"));
    assert!(deploy.get("memoize").is_none(), "cache = false");
    let memo = &template(&wf, "preprocess-data")["memoize"];
    assert_eq!(memo["cache"]["configMap"]["name"], "kfl-cache");
    assert!(memo["key"].as_str().expect("key").starts_with("kfl-"));
}

#[test]
fn every_dag_uses_depends_and_never_dependencies() {
    let (db, pipelines) = common::examples();
    for (path, name) in &pipelines {
        let wf = workflow(&common::lower(&db, path, name), &ArgoOptions::default()).expect("emits");
        let mut all = Vec::new();
        strings(&wf, String::new(), &mut all);
        assert!(all.iter().all(|(p, _)| !p.ends_with(".dependencies")), "{path}: `dependencies` used");
    }
}

#[test]
fn params_override_defaults_and_are_checked_by_type() {
    let (db, _) = common::examples();
    let dag = common::lower(&db, "examples/quickstart.kfl", "quickstart");
    let options = ArgoOptions { params: vec!["epochs=3".into()], name: Some("run-1".into()), ..ArgoOptions::default() };
    let wf = workflow(&dag, &options).expect("emits");
    let epochs =
        wf["spec"]["arguments"]["parameters"].as_array().expect("params").iter().find(|p| p["name"] == "epochs");
    assert_eq!(epochs.expect("epochs")["value"], "3");
    assert_eq!(wf["metadata"]["name"], "run-1");
    assert!(wf["metadata"].get("generateName").is_none());
    let bad = ArgoOptions { params: vec!["epochs=many".into()], ..ArgoOptions::default() };
    assert!(matches!(workflow(&dag, &bad), Err(ArgoError::Param(_))));
    let unknown = ArgoOptions { params: vec!["nope=1".into()], ..ArgoOptions::default() };
    assert!(matches!(workflow(&dag, &unknown), Err(ArgoError::Param(_))));
}

#[test]
fn tricky_values_travel_as_data_only() {
    let source = r#"
component echo_message {
    image = "alpine:3.20"
    input message: String
    output copy: String
    sh """
        printf '%s' "$message" > "$copy"
    """
}

component shout {
    image = "python:3.11-slim"
    input message: String
    python """
        print(message.upper())
    """
}

pipeline quoting(message: String = "it's \"quoted\" \$(rm -rf /) `id`\nsecond line") {
    echoed = echo_message(message: message)
    if echoed.copy == "it's \"quoted\" {x}" {
        shout(message: echoed.copy)
    }
    shout_again = shout(message: "a literal's \"value\" \$(id)\n")
}
"#;
    let wf = from_source(source).expect("emits");
    let value = "it's \"quoted\" $(rm -rf /) `id`\nsecond line";
    let mut all = Vec::new();
    strings(&wf, String::new(), &mut all);
    let holders: Vec<&String> = all.iter().filter(|(_, s)| s.contains("rm -rf")).map(|(p, _)| p).collect();
    assert_eq!(holders, [".spec.arguments.parameters[0].value"], "the parameter's value is only its value");
    assert_eq!(wf["spec"]["arguments"]["parameters"][0]["value"], value);
    // A literal argument is an argument value, nothing else.
    let literal: Vec<&String> = all.iter().filter(|(_, s)| s.contains("$(id)")).map(|(p, _)| p).collect();
    assert_eq!(literal.len(), 1, "{literal:?}");
    assert!(literal[0].contains(".arguments.parameters"), "{literal:?}");
    // Scripts read values from the environment, not from their command line.
    for t in templates(&wf).iter().filter(|t| t.get("container").is_some()) {
        let command: Vec<&str> =
            t["container"]["command"].as_array().expect("command").iter().filter_map(Json::as_str).collect();
        assert!(command.iter().all(|c| !c.contains("inputs.parameters")), "{command:?}");
        let env = t["container"]["env"].as_array().expect("env");
        assert!(env.iter().any(|e| e["name"] == "KFL_INPUT_message" && e["value"] == "{{inputs.parameters.message}}"));
    }
    // The condition's string literal is an escaped expr literal; the values it compares are variables.
    let when = task(template(&wf, "quoting"), "shout")["when"].as_str().expect("when");
    assert_eq!(when, r#"{{=tasks["echoed"].outputs.parameters["copy"] == "it's \"quoted\" \u007bx\u007d"}}"#);
}

#[test]
fn a_literal_argo_would_read_as_a_template_is_refused() {
    let source = r#"
component show {
    image = "alpine:3.20"
    input text: String
    sh """
        echo "$text"
    """
}

pipeline p() {
    show(text: "{{workflow.name}}")
}
"#;
    assert!(matches!(from_source(source), Err(ArgoError::Unrepresentable(_))));
}

fn fixture(path: &str, pipeline: &str) -> Json {
    let (db, _) = common::fixtures();
    let dag = common::lower(&db, path, pipeline);
    workflow(&dag, &ArgoOptions::default()).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn the_exit_handler_of_a_called_pipeline_waits_for_its_tasks_whatever_happened() {
    let wf = fixture("fixtures/sub_pipeline_finally.kfl", "outer");
    assert_eq!(wf["spec"]["onExit"], "exit-handler-1");
    let root = template(&wf, "outer");
    assert_eq!(root["dag"]["failFast"], false);
    let cleanup = task(root, "first-inner-cleanup");
    let depends = cleanup["depends"].as_str().expect("depends");
    assert!(depends.contains("(first-produced.Succeeded || first-produced.Failed"), "{depends}");
    assert!(depends.contains("first-step.Failed"), "{depends}");
    assert!(!depends.contains("after-inner"), "{depends}");
}

#[test]
fn nested_loops_pass_values_down_and_collect_into_the_outer_body() {
    let wf = fixture("fixtures/nested_loops.kfl", "nested_loops");
    let outer_body = template(&wf, "for-loop-1-body");
    let inner = task(outer_body, "for-loop-2");
    assert_eq!(argument(inner, "for-loop-1-shard"), "{{inputs.parameters.shard}}");
    assert_eq!(
        argument(inner, "kfl-scope"),
        "{{inputs.parameters.kfl-scope}}/{{inputs.parameters.kfl-index}}/for-loop-2"
    );
    let picked = task(outer_body, "picked");
    assert_eq!(
        argument(picked, "kfl-key-models"),
        "{{inputs.parameters.kfl-scope}}/{{inputs.parameters.kfl-index}}/for-loop-2/trained/model"
    );
    let inner_body = template(&wf, "for-loop-2-body");
    let trained = task(inner_body, "trained");
    assert_eq!(argument(trained, "lr"), r#"{{=fromJSON(inputs.parameters["cfg"])["lr"]}}"#);
    assert_eq!(argument(trained, "shard"), "{{inputs.parameters.for-loop-1-shard}}");
    let when = task(inner_body, "log")["when"].as_str().expect("when");
    assert!(when.contains(r#"inputs.parameters["for-loop-1-shard"] == "a""#), "{when}");
}

#[test]
fn fan_in_from_a_loop_in_a_loop_is_a_list_per_outer_iteration() {
    let wf = fixture("fixtures/fan_in.kfl", "nested_fan_in");
    // The inner loop's body exports the task's output; its wrapper aggregates it into a list.
    let inner_body = template(&wf, "for-loop-2-body");
    assert_eq!(inner_body["outputs"]["parameters"][0]["valueFrom"]["parameter"], "{{tasks.t.outputs.parameters.y}}");
    // The outer loop's body exports that list; Argo's aggregation parses the lists into a list of lists.
    let outer_body = template(&wf, "for-loop-1-body");
    let exports = outer_body["outputs"]["parameters"].as_array().expect("exports");
    let y = exports.iter().find(|p| p["name"] == "t-y").expect("t-y exported");
    assert_eq!(y["valueFrom"]["parameter"], "{{tasks.for-loop-2.outputs.parameters.t-y}}");
    // Outside both loops: every Int of every inner list is converted back.
    let all = task(template(&wf, "nested-fan-in"), "all");
    assert_eq!(
        argument(all, "rows"),
        r#"{{=toJson(map(fromJSON(tasks["for-loop-1"].outputs.parameters["t-y"]), map(#, asInt(#))))}}"#
    );
    assert_eq!(argument(all, "labels"), "{{tasks.for-loop-1.outputs.parameters.t-label}}");
    assert_eq!(all["depends"], "for-loop-1");
    // Inside the outer loop only: the inner loop's flat list.
    let row = task(outer_body, "row");
    assert_eq!(
        argument(row, "xs"),
        r#"{{=toJson(map(fromJSON(tasks["for-loop-2"].outputs.parameters["t-y"]), asInt(#)))}}"#
    );
}

#[test]
fn outputs_of_a_pipeline_called_in_a_loop_are_collected_after_it() {
    let wf = fixture("fixtures/fan_in.kfl", "sweep_trials");
    let summary = task(template(&wf, "sweep-trials"), "summary");
    assert_eq!(summary["depends"], "for-loop-1");
    assert_eq!(
        argument(summary, "accs"),
        r#"{{=toJson(map(fromJSON(tasks["for-loop-1"].outputs.parameters["sub-fitted-acc"]), asFloat(#)))}}"#
    );
    assert_eq!(argument(summary, "kfl-key-models"), "{{workflow.name}}/for-loop-1/sub-fitted/model");
    let fitted = task(template(&wf, "for-loop-1-body"), "sub-fitted");
    assert_eq!(
        argument(fitted, "kfl-key-model"),
        "{{inputs.parameters.kfl-scope}}/sub-fitted/model/{{inputs.parameters.kfl-index}}"
    );
}

#[test]
fn a_list_of_lists_of_artifacts_is_refused_in_words() {
    let source = r#"
component make {
    image = "python:3.11-slim"
    input n: Int
    output model: Model
    python """
        open(model.path, "w").write(str(n))
    """
}

component use_all {
    image = "python:3.11-slim"
    input models: List<List<Model>>
    python """
        print(models)
    """
}

pipeline grid() {
    for a in [1, 2] {
        for b in [3, 4] {
            made = make(n: b)
        }
    }
    use_all(models: made.model)
}
"#;
    let message = from_source(source).expect_err("refused").to_string();
    assert!(message.contains("`made.model`") && message.contains("nested in another loop"), "{message}");
    assert!(!message.contains("NodeIndex") && !message.contains('{'), "{message}");
}

/// Settings on a call of a pipeline show up on every template its tasks run (they were dropped).
#[test]
fn settings_of_a_pipeline_call_reach_the_templates_of_its_tasks() {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../kfl-dag/tests/pipeline_call.kfl"))
        .expect("case");
    let mut db = Database::default();
    let file = db.set_file("pipeline_call.kfl", source);
    let dag = kfl_project::lower(&db, file, Some("outer")).expect("lowers");
    let wf = workflow(&dag, &ArgoOptions::default()).expect("builds");
    let steps: Vec<&Json> = templates(&wf).iter().filter(|t| t["container"]["image"].is_string()).collect();
    let inner: Vec<&&Json> = steps.iter().filter(|t| t["metadata"]["labels"]["kfl.dev/component"] == "step").collect();
    assert!(!inner.is_empty(), "{steps:#?}");
    for t in inner {
        assert_eq!(t["retryStrategy"]["limit"], "3", "{t:#}");
        assert_eq!(t["activeDeadlineSeconds"], 3600, "{t:#}");
        assert_eq!(t["container"]["resources"]["requests"]["cpu"], "2", "{t:#}");
        assert_eq!(t["container"]["resources"]["requests"]["memory"], "1Gi", "{t:#}");
        assert!(t.get("memoize").is_none(), "cache = false: {t:#}");
        let env = t["container"]["env"].as_array().expect("env");
        assert!(env.iter().any(|e| e["name"] == "MODE" && e["value"] == "fast"), "{env:?}");
    }
}

/// `resources { ephemeral_storage = 10Gi }` (a row of the field table) becomes the container's
/// `ephemeral-storage` request and limit.
#[test]
fn ephemeral_storage_is_a_request_and_a_limit() {
    let wf = from_source(
        "component step {\n    output out: String\n    resources { ephemeral_storage = 10Gi }\n    sh \"\"\"\n        echo ok > \"$out\"\n    \"\"\"\n}\npipeline p() {\n    s = step()\n    output o = s.out\n}\n",
    )
    .expect("builds");
    let step = templates(&wf).iter().find(|t| t["container"]["image"].is_string()).expect("a container template");
    assert_eq!(step["container"]["resources"]["requests"]["ephemeral-storage"], "10Gi", "{step:#}");
    assert_eq!(step["container"]["resources"]["limits"]["ephemeral-storage"], "10Gi", "{step:#}");
}

#[test]
fn the_backend_writes_what_to_yaml_writes_and_refuses_in_the_same_words() {
    let backend = ArgoBackend::default();
    for (db, pipelines) in [common::examples(), common::fixtures()] {
        for (path, name) in &pipelines {
            let dag = common::lower(&db, path, name);
            let expected = workflow(&dag, &ArgoOptions::default()).map(|wf| to_yaml(&wf)).map_err(|e| e.to_string());
            let document = backend.emit(&dag).map_err(|e| e.to_string());
            assert_eq!(document.as_ref().map(|d| &d.text), expected.as_ref(), "{path} {name}");
            assert_eq!(backend.check(&dag).is_ok(), expected.is_ok(), "{path} {name}");
            if let Ok(document) = document {
                assert_eq!((document.kind, document.extension), ("Workflow", "yaml"));
            }
        }
    }
}

#[test]
fn a_workflow_larger_than_kubernetes_stores_is_refused() {
    let source = |size: usize| {
        format!(
            "component show {{\n    input text: String\n    sh \"\"\"\n        echo \"$text\"\n    \"\"\"\n}}\n\n\
             pipeline p(text: String = \"{}\") {{\n    show(text: text)\n}}\n",
            "x".repeat(size)
        )
    };
    let lower = |text: &str| {
        let mut db = Database::default();
        let file = db.set_file("big.kfl", text.to_string());
        kfl_project::lower(&db, file, None).unwrap_or_else(|e| panic!("{e}"))
    };
    let backend = ArgoBackend::default();
    let fits = lower(&source(MAX_WORKFLOW_BYTES - 10_000));
    assert!(backend.emit(&fits).is_ok());
    let big = lower(&source(MAX_WORKFLOW_BYTES));
    let error = backend.emit(&big).expect_err("too large");
    assert!(error.message.starts_with("too large for Argo Workflows: the Workflow is "), "{error}");
    assert!(error.message.contains(&format!("more than the {MAX_WORKFLOW_BYTES} bytes")), "{error}");
    assert_eq!(backend.check(&big), Err(error));
}
