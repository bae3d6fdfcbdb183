//! The shape of the PipelineSpec: what the snapshots show, stated as properties.

mod common;

use kfl_dag::backend::{Backend, BackendError};
use kfl_kfp::{pipeline_spec, KfpOptions};
use serde_json::Value;

fn spec(source: &str) -> (Value, Option<Value>) {
    pipeline_spec(&common::lower_source(source), &KfpOptions::default())
}

fn executor_components(spec: &Value) -> Vec<&String> {
    let components = spec["components"].as_object().expect("components");
    components.iter().filter(|(_, c)| c.get("executorLabel").is_some()).map(|(name, _)| name).collect()
}

const STEP: &str = r#"
component step {
    image = "python:3.11-slim"
    input n: Int
    output doubled: Int
    python """
        doubled = n * 2
    """
}
"#;

#[test]
fn a_hundred_tasks_of_one_component_share_one_component_and_one_executor() {
    let tasks: String =
        (0..100).map(|i| format!("    t{i} = step(n: {i})\n    output o{i} = t{i}.doubled\n")).collect();
    let (spec, platform) = spec(&format!("{STEP}\npipeline many() {{\n{tasks}}}\n"));
    assert_eq!(spec["root"]["dag"]["tasks"].as_object().expect("tasks").len(), 100);
    assert_eq!(executor_components(&spec), ["comp-step"]);
    assert_eq!(spec["deploymentSpec"]["executors"].as_object().expect("executors").len(), 1);
    assert!(platform.is_none());
    for (name, task) in spec["root"]["dag"]["tasks"].as_object().expect("tasks") {
        assert_eq!(task["componentRef"]["name"], "comp-step", "{name}");
    }
}

#[test]
fn tasks_with_different_settings_get_their_own_executor() {
    let (spec, platform) = spec(&format!(
        r#"{STEP}
pipeline two() {{
    small = step(n: 1)
    big = step(n: 2) {{
        resources {{ cpu = 4, memory = 8Gi }}
        env {{ TOKEN = secret(name: "api", key: "token") }}
    }}
    same = step(n: 3)
    output a = small.doubled
    output b = big.doubled
    output c = same.doubled
}}
"#
    ));
    let tasks = &spec["root"]["dag"]["tasks"];
    assert_eq!(tasks["small"]["componentRef"]["name"], "comp-step");
    assert_eq!(tasks["same"]["componentRef"]["name"], "comp-step");
    assert_eq!(tasks["big"]["componentRef"]["name"], "comp-step-2");
    assert_eq!(spec["components"]["comp-step-2"]["executorLabel"], "exec-step-2");
    let big = &spec["deploymentSpec"]["executors"]["exec-step-2"]["container"]["resources"];
    assert_eq!(big["resourceCpuRequest"], "4");
    assert_eq!(big["resourceMemoryRequest"], "8Gi");
    assert!(spec["deploymentSpec"]["executors"]["exec-step"]["container"].get("resources").is_none());
    let platform = platform.expect("a secret needs the platform spec");
    let secret = &platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]["exec-step-2"]["secretAsEnv"][0];
    assert_eq!(secret["secretName"], "api");
    assert_eq!(secret["keyToEnv"][0], serde_json::json!({ "envVar": "TOKEN", "secretKey": "token" }));
}

#[test]
fn a_condition_is_a_sub_dag_with_a_cel_trigger_over_its_inputs() {
    let (spec, _) = spec(&format!(
        r#"{STEP}
pipeline gated(limit: Int = 3, label: String = "it's") {{
    first = step(n: 1)
    if first.doubled > limit and label == "it's" {{
        second = step(n: first.doubled)
    }}
}}
"#
    ));
    let condition = &spec["root"]["dag"]["tasks"]["condition-1"];
    assert_eq!(
        condition["triggerPolicy"]["condition"],
        "int(inputs.parameter_values['pipelinechannel--first--doubled']) > \
         int(inputs.parameter_values['pipelinechannel--limit']) && \
         inputs.parameter_values['pipelinechannel--label'] == 'it\\'s'"
    );
    assert_eq!(condition["dependentTasks"], serde_json::json!(["first"]));
    let inputs = &condition["inputs"]["parameters"];
    assert_eq!(inputs["pipelinechannel--limit"]["componentInputParameter"], "limit");
    assert_eq!(inputs["pipelinechannel--first--doubled"]["taskOutputParameter"]["producerTask"], "first");
    let sub_dag = &spec["components"]["comp-condition-1"];
    assert_eq!(
        sub_dag["dag"]["tasks"]["second"]["inputs"]["parameters"]["n"]["componentInputParameter"],
        "pipelinechannel--first--doubled"
    );
    assert_eq!(sub_dag["inputDefinitions"]["parameters"]["pipelinechannel--limit"]["parameterType"], "NUMBER_INTEGER");
}

#[test]
fn a_loop_iterates_with_a_parallelism_limit_and_collects_its_outputs() {
    let (spec, _) = spec(&format!(
        r#"{STEP}
component total {{
    image = "python:3.11-slim"
    input values: List<Int>
    output sum: Int
    python """
        sum = sum(values)
    """
}}

pipeline sweep() {{
    for n in [1, 2, 3] parallel 2 {{
        trial = step(n: n)
    }}
    summed = total(values: trial.doubled)
    output result = summed.sum
}}
"#
    ));
    let tasks = &spec["root"]["dag"]["tasks"];
    let lp = &tasks["for-loop-1"];
    assert_eq!(lp["iteratorPolicy"]["parallelismLimit"], 2);
    assert_eq!(lp["parameterIterator"]["items"]["raw"], "[1,2,3]");
    assert_eq!(lp["parameterIterator"]["itemInput"], "pipelinechannel--for-loop-1-loop-item");
    let body = &spec["components"]["comp-for-loop-1"];
    assert_eq!(
        body["dag"]["tasks"]["trial"]["inputs"]["parameters"]["n"]["componentInputParameter"],
        "pipelinechannel--for-loop-1-loop-item"
    );
    assert_eq!(
        body["inputDefinitions"]["parameters"]["pipelinechannel--for-loop-1-loop-item"]["parameterType"],
        "NUMBER_INTEGER"
    );
    // Fan-in: the loop's sub-DAG exposes the list of `trial.doubled`, and `summed` reads it.
    assert_eq!(body["dag"]["outputs"]["parameters"]["trial-doubled"]["valueFromParameter"]["producerSubtask"], "trial");
    assert_eq!(body["outputDefinitions"]["parameters"]["trial-doubled"]["parameterType"], "LIST");
    let values = &tasks["summed"]["inputs"]["parameters"]["values"]["taskOutputParameter"];
    assert_eq!(values["producerTask"], "for-loop-1");
    assert_eq!(values["outputParameterKey"], "trial-doubled");
    assert_eq!(tasks["summed"]["dependentTasks"], serde_json::json!(["for-loop-1"]));
}

#[test]
fn a_loop_over_records_selects_fields_with_cel() {
    let (spec, _) = spec(&format!(
        r#"{STEP}
pipeline records() {{
    for cfg in [{{ n: 1, name: "a" }}, {{ n: 2, name: "b" }}] {{
        trial = step(n: cfg.n)
    }}
}}
"#
    ));
    let n = &spec["components"]["comp-for-loop-1"]["dag"]["tasks"]["trial"]["inputs"]["parameters"]["n"];
    assert_eq!(n["componentInputParameter"], "pipelinechannel--for-loop-1-loop-item");
    assert_eq!(n["parameterExpressionSelector"], "parseJson(string_value)[\"n\"]");
}

#[test]
fn the_exit_handler_wraps_the_body_and_runs_after_it_whatever_happened() {
    let (spec, _) = spec(&format!(
        r#"{STEP}
component cleanup {{
    image = "alpine:3.20"
    input what: String
    sh "echo cleaning $what"
}}

pipeline guarded(scratch: String = "/tmp/x") {{
    work = step(n: 1)
    finally {{
        cleanup(what: scratch)
    }}
    output r = work.doubled
}}
"#
    ));
    let tasks = spec["root"]["dag"]["tasks"].as_object().expect("tasks");
    let mut names: Vec<&String> = tasks.keys().collect();
    names.sort();
    assert_eq!(names, ["cleanup", "exit-handler-1"]);
    assert_eq!(tasks["cleanup"]["triggerPolicy"]["strategy"], "ALL_UPSTREAM_TASKS_COMPLETED");
    assert_eq!(tasks["cleanup"]["dependentTasks"], serde_json::json!(["exit-handler-1"]));
    let body = &spec["components"]["comp-exit-handler-1"]["dag"];
    assert!(body["tasks"].get("work").is_some());
    // The pipeline output surfaces through the exit handler's sub-DAG.
    assert_eq!(
        spec["root"]["dag"]["outputs"]["parameters"]["r"]["valueFromParameter"]["producerSubtask"],
        "exit-handler-1"
    );
}

#[test]
fn sh_scripts_get_values_as_positional_parameters_never_in_their_text() {
    let (spec, _) = spec(
        r#"
component shout {
    image = "alpine:3.20"
    input message: String
    output loud: String
    sh """
        echo "$message" | tr a-z A-Z > "$loud"
    """
}
pipeline p(message: String = "$(rm -rf /)") {
    s = shout(message: message)
    output o = s.loud
}
"#,
    );
    let container = &spec["deploymentSpec"]["executors"]["exec-shout"]["container"];
    let script = container["command"][2].as_str().expect("script");
    assert_eq!((&container["command"][0], &container["command"][1]), (&Value::from("sh"), &Value::from("-c")));
    assert!(!script.contains("{{$"), "no placeholder in the script text: {script}");
    assert!(script.contains("export message=\"${1}\"") && script.contains("export loud=\"${2}\""), "{script}");
    assert_eq!(
        container["args"],
        serde_json::json!([
            "shout",
            "{{$.inputs.parameters['message']}}",
            "{{$.outputs.parameters['loud'].output_file}}"
        ])
    );
}

#[test]
fn python_scripts_are_kfp_lightweight_components() {
    let (spec, _) = spec(&format!("{STEP}\npipeline one() {{\n    s = step(n: 1)\n    output o = s.doubled\n}}\n"));
    let container = &spec["deploymentSpec"]["executors"]["exec-step"]["container"];
    assert_eq!(container["args"], serde_json::json!(["--executor_input", "{{$}}", "--function_to_execute", "step"]));
    let command: Vec<&str> =
        container["command"].as_array().expect("command").iter().filter_map(Value::as_str).collect();
    assert!(command[2].contains("'kfp==2.17.3' '--no-deps'"), "{}", command[2]);
    assert!(command[5].contains("python3 -m kfp.dsl.executor_main"));
    let module = command[6];
    assert!(module.contains("def step(\n    n: int,\n) -> NamedTuple('Outputs', [('doubled', int)]):"), "{module}");
    assert!(module.contains("_KFL_SCRIPT = r'''doubled = n * 2\n'''"), "{module}");
}

#[test]
fn a_called_pipeline_is_a_sub_dag_whose_outputs_surface() {
    let (spec, _) = spec(&format!(
        r#"{STEP}
pipeline inner(x: Int) {{
    s = step(n: x)
    output y = s.doubled
}}
pipeline outer() {{
    called = inner(x: 4)
    after_it = step(n: called.y)
    output z = after_it.doubled
}}
"#
    ));
    let tasks = &spec["root"]["dag"]["tasks"];
    assert_eq!(tasks["called"]["componentRef"]["name"], "comp-inner");
    let n = &tasks["after-it"]["inputs"]["parameters"]["n"]["taskOutputParameter"];
    assert_eq!(n["producerTask"], "called");
    assert_eq!(tasks["after-it"]["dependentTasks"], serde_json::json!(["called"]));
    let inner = &spec["components"]["comp-inner"];
    assert_eq!(
        inner["dag"]["outputs"]["parameters"][n["outputParameterKey"].as_str().expect("key")]["valueFromParameter"]
            ["producerSubtask"],
        "called-s"
    );
}

fn case(name: &str) -> Value {
    let dag = common::case_pipelines().into_iter().find(|(n, _)| n == name).map(|(_, d)| d);
    pipeline_spec(&dag.unwrap_or_else(|| panic!("no case {name}")), &KfpOptions::default()).0
}

#[test]
fn fan_in_from_a_loop_in_a_loop_surfaces_a_list_through_each_loop() {
    // The form kfp's own compiler gives `dsl.Collected` of a loop in a loop (a `List[List[int]]`):
    // each loop's sub-DAG exposes the list of its body's value, so the outer one is a list of lists.
    let spec = case("cases_fan_in__nested_fan_in");
    let inner = &spec["components"]["comp-for-loop-2"];
    let from_task = &inner["dag"]["outputs"]["parameters"]["t-y"]["valueFromParameter"];
    assert_eq!(from_task["producerSubtask"], "t");
    assert_eq!(from_task["outputParameterKey"], "y");
    let outer = &spec["components"]["comp-for-loop-1"];
    let from_inner = &outer["dag"]["outputs"]["parameters"]["t-y"]["valueFromParameter"];
    assert_eq!(from_inner["producerSubtask"], "for-loop-2");
    assert_eq!(from_inner["outputParameterKey"], "t-y");
    assert_eq!(outer["outputDefinitions"]["parameters"]["t-y"]["parameterType"], "LIST");
    let rows = &spec["root"]["dag"]["tasks"]["all"]["inputs"]["parameters"]["rows"]["taskOutputParameter"];
    assert_eq!(rows["producerTask"], "for-loop-1");
    assert_eq!(rows["outputParameterKey"], "t-y");
    // Inside the outer loop, after the inner one: the inner loop's flat list.
    let xs = &outer["dag"]["tasks"]["row"]["inputs"]["parameters"]["xs"]["taskOutputParameter"];
    assert_eq!(xs["producerTask"], "for-loop-2");
}

#[test]
fn outputs_of_a_pipeline_called_in_a_loop_are_collected_after_it() {
    let spec = case("cases_fan_in__sweep_trials");
    let tasks = &spec["root"]["dag"]["tasks"];
    let accs = &tasks["summary"]["inputs"]["parameters"]["accs"]["taskOutputParameter"];
    assert_eq!(accs["producerTask"], "for-loop-1");
    let models = &tasks["summary"]["inputs"]["artifacts"]["models"]["taskOutputArtifact"];
    assert_eq!(models["producerTask"], "for-loop-1");
}

#[test]
fn a_list_of_lists_of_artifacts_is_refused_in_words() {
    let dag = common::lower_source(
        r#"
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
"#,
    );
    let message = kfl_kfp::check(&dag).expect_err("refused").to_string();
    assert!(message.contains("`made.model`") && message.contains("nested in another loop"), "{message}");
    // The backend refuses it in the same words, naming the output, whether it checks or emits.
    let backend = kfl_kfp::KfpBackend::default();
    let refusal = BackendError { message: message.clone(), about: Some("made.model".to_string()) };
    assert_eq!(backend.check(&dag), Err(refusal.clone()));
    assert_eq!(backend.emit(&dag), Err(refusal));
    // Every example and case passes the check, and the backend writes what `to_yaml` writes.
    for (name, dag) in common::all_pipelines() {
        assert_eq!(kfl_kfp::check(&dag), Ok(()), "{name}");
        let document = backend.emit(&dag).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(document.text, kfl_kfp::to_yaml(&dag, &kfl_kfp::KfpOptions::default()), "{name}");
        assert_eq!((document.kind, document.extension), ("PipelineSpec", "yaml"));
    }
}

/// Settings on a call of a pipeline show up on every task and executor inside its sub-DAG.
#[test]
fn settings_of_a_pipeline_call_reach_the_tasks_of_its_sub_dag() {
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../kfl-dag/tests/pipeline_call.kfl"))
        .expect("case");
    let (spec, _) = spec(&source);
    let inner = &spec["components"]["comp-inner"]["dag"]["tasks"];
    for name in ["i-a", "i-b"] {
        let task = &inner[name];
        assert_eq!(task["retryPolicy"]["maxRetryCount"], 3, "{name}: {task:#}");
        assert_eq!(task["cachingOptions"], serde_json::json!({}), "{name}: cache = false: {task:#}");
        let executor = task["componentRef"]["name"].as_str().expect("component").replace("comp-", "exec-");
        let container = &spec["deploymentSpec"]["executors"][&executor]["container"];
        assert_eq!(container["resources"]["resourceCpuRequest"], "2", "{name}: {container:#}");
        assert_eq!(container["resources"]["resourceMemoryRequest"], "1Gi", "{name}: {container:#}");
        let env = container["env"].as_array().expect("env");
        assert!(env.iter().any(|e| e["name"] == "MODE" && e["value"] == "fast"), "{env:?}");
    }
}

/// The task of the root DAG that output `name` of the pipeline selects, and the output key.
fn output_producer<'a>(spec: &'a Value, name: &str) -> (&'a Value, &'a Value) {
    let selector = &spec["root"]["dag"]["outputs"]["parameters"][name]["valueFromParameter"];
    let task = selector["producerSubtask"].as_str().unwrap_or_else(|| panic!("no selector for {name}"));
    (&spec["root"]["dag"]["tasks"][task], &selector["outputParameterKey"])
}

#[test]
fn a_parameter_or_a_constant_output_is_copied_by_a_passthrough_task() {
    let spec = case("cases_passthrough__outer");
    let root = &spec["root"];
    assert_eq!(root["outputDefinitions"]["parameters"]["passthrough"]["parameterType"], "NUMBER_INTEGER");
    let selector = &root["dag"]["outputs"]["parameters"]["passthrough"]["valueFromParameter"];
    // The user's task `output_passthrough` has the name `output-passthrough`: the copy gets the next.
    assert_eq!(selector["producerSubtask"], "output-passthrough-2");
    assert_eq!(selector["outputParameterKey"], "value");
    assert_eq!(root["dag"]["tasks"]["output-passthrough"]["componentRef"]["name"], "comp-step");
    let (task, _) = output_producer(&spec, "passthrough");
    assert_eq!(task["componentRef"]["name"], "comp-kfl-passthrough-int");
    assert_eq!(task["inputs"]["parameters"]["value"]["componentInputParameter"], "k");
    assert!(task.get("dependentTasks").is_none());
    // A task's output is still selected from the task itself.
    let (task, key) = output_producer(&spec, "acc");
    assert_eq!((&task["componentRef"]["name"], key), (&Value::from("comp-step"), &Value::from("acc")));
    // Every parameter type, declared alike by the DAG and by the component it selects from.
    for (output, parameter_type) in [
        ("passthrough", "NUMBER_INTEGER"),
        ("rate", "NUMBER_DOUBLE"),
        ("fast", "BOOLEAN"),
        ("sizes", "LIST"),
        ("options", "STRUCT"),
        ("version", "STRING"),
        ("echoed", "NUMBER_INTEGER"),
        ("echoed_version", "STRING"),
    ] {
        assert_eq!(root["outputDefinitions"]["parameters"][output]["parameterType"], parameter_type, "{output}");
        let (task, key) = output_producer(&spec, output);
        let component = &spec["components"][task["componentRef"]["name"].as_str().expect("componentRef")];
        assert_eq!(component["executorLabel"], "exec-kfl-passthrough", "{output}");
        assert_eq!(key, "value");
        for io in ["inputDefinitions", "outputDefinitions"] {
            assert_eq!(component[io]["parameters"]["value"]["parameterType"], parameter_type, "{output} {io}");
        }
    }
    let (version, _) = output_producer(&spec, "version");
    assert_eq!(version["inputs"]["parameters"]["value"]["runtimeValue"]["constant"], "v2");
    let container = &spec["deploymentSpec"]["executors"]["exec-kfl-passthrough"]["container"];
    assert_eq!(container["image"], kfl_dag::DEFAULT_SH_IMAGE);
    let script = container["command"][2].as_str().expect("script");
    assert!(!script.contains("{{$"), "values are arguments, never script text: {script}");
    assert_eq!(
        container["args"],
        serde_json::json!([
            "kfl-passthrough",
            "{{$.inputs.parameters['value']}}",
            "{{$.outputs.parameters['value'].output_file}}"
        ])
    );
}

#[test]
fn a_called_pipeline_that_passes_its_parameter_on_is_read_as_the_callers_value() {
    let spec = case("cases_passthrough__outer");
    let shown = &spec["root"]["dag"]["tasks"]["shown"];
    assert_eq!(shown["inputs"]["parameters"]["n"]["componentInputParameter"], "k");
    assert_eq!(shown["inputs"]["parameters"]["label"]["runtimeValue"]["constant"], "inner");
    let (echoed, _) = output_producer(&spec, "echoed");
    assert_eq!(echoed["inputs"]["parameters"]["value"]["componentInputParameter"], "k");
    // Called on its own, the pipeline's parameter output is an output of its root DAG.
    let echo = case("cases_passthrough__echo");
    assert_eq!(echo["root"]["outputDefinitions"]["parameters"]["same"]["parameterType"], "NUMBER_INTEGER");
    let (same, _) = output_producer(&echo, "same");
    assert_eq!(same["inputs"]["parameters"]["value"]["componentInputParameter"], "n");
}

#[test]
fn a_loop_item_passed_on_by_a_called_pipeline_is_copied_in_the_loop_and_collected() {
    let spec = case("cases_passthrough__collected");
    let t = &spec["root"]["dag"]["tasks"]["t"];
    let xs = &t["inputs"]["parameters"]["xs"]["taskOutputParameter"];
    assert_eq!(xs["producerTask"], "for-loop-1");
    assert_eq!(t["dependentTasks"], serde_json::json!(["for-loop-1"]));
    let body = &spec["components"]["comp-for-loop-1"];
    let key = xs["outputParameterKey"].as_str().expect("key");
    assert_eq!(body["outputDefinitions"]["parameters"][key]["parameterType"], "LIST");
    let copy = body["dag"]["outputs"]["parameters"][key]["valueFromParameter"]["producerSubtask"]
        .as_str()
        .expect("producerSubtask");
    let copy = &body["dag"]["tasks"][copy];
    assert_eq!(copy["componentRef"]["name"], "comp-kfl-passthrough-int");
    assert_eq!(
        copy["inputs"]["parameters"]["value"]["componentInputParameter"],
        "pipelinechannel--for-loop-1-loop-item"
    );
}

#[test]
fn user_text_in_the_header_and_the_executor_comments_cannot_end_a_comment() {
    let mut dag = common::lower_source(&format!(
        "/// Steps.\n{STEP}\npipeline p(n: Int = 1) {{\n    s = step(n: n)\n    output doubled = s.doubled\n}}\n"
    ));
    let hostile = "one\rinjected: true\u{2028}two\u{2029}three\u{85}four\u{1b}[2J\u{0}five";
    dag.description = Some(format!("{hostile}\nsecond line"));
    dag.source = format!("dir\r{hostile}.kfl");
    for component in &mut dag.components {
        component.doc = Some(format!("doc\rimport os; os.system('x')\u{2028}{hostile}"));
        component.source = format!("file\r{hostile}.kfl");
    }
    let yaml = kfl_kfp::to_yaml(&dag, &KfpOptions::default());
    let header: Vec<&str> = yaml.split('\n').take_while(|line| !line.starts_with("components")).collect();
    for line in yaml.split('\n').take_while(|line| line.starts_with('#')) {
        for c in ['\r', '\u{2028}', '\u{2029}', '\u{85}', '\u{1b}', '\u{0}'] {
            assert!(!line.contains(c), "{c:?} in a header comment: {line:?}");
        }
    }
    assert!(header.iter().any(|l| l.contains("one\\u{d}injected: true\\u{2028}two")), "{header:#?}");
    assert!(yaml.contains("#   second line\n"), "a real line break still starts a comment line");
    // Every line the executor's Python module comments on stays a comment: nothing but `\n` breaks
    // a line in what we write.
    for c in ['\r', '\u{2028}', '\u{2029}', '\u{85}', '\u{1b}', '\u{0}'] {
        assert!(!yaml.contains(c), "{c:?} written raw into the KFP YAML");
    }
    assert!(serde_norway::from_str::<serde_norway::Value>(yaml.split("\n---\n").next().unwrap_or_default()).is_ok());
}
