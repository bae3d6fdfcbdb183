//! The `kflc` command line, run as a user runs it: rendered diagnostics are snapshots (insta), exit
//! codes and machine-readable output are asserted.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn kflc(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kflc"))
        .args(args)
        .current_dir(root())
        .env("NO_COLOR", "1")
        .output()
        .expect("kflc runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn tempdir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kflc-cli-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

#[test]
fn check_renders_diagnostics_with_codes_spans_and_help() {
    let (code, _, stderr) = kflc(&["check", "tests/cli/typo.kfl"]);
    assert_eq!(code, 1, "errors give exit code 1");
    insta::assert_snapshot!("check_typo_human", stderr);
}

#[test]
fn check_follows_imports_and_labels_other_files() {
    let (code, _, stderr) = kflc(&["check", "tests/cli/imports/main.kfl"]);
    assert_eq!(code, 1);
    insta::assert_snapshot!("check_imports_human", stderr);
}

#[test]
fn check_json_is_machine_readable() {
    let (code, stdout, _) = kflc(&["check", "--format", "json", "tests/cli/typo.kfl"]);
    assert_eq!(code, 1);
    let value: serde_json::Value = serde_json::from_str(&stdout).expect("valid JSON");
    let items = value.as_array().expect("an array");
    assert!(!items.is_empty());
    for item in items {
        for key in ["path", "range", "start", "end", "code", "severity", "message", "help"] {
            assert!(item.get(key).is_some(), "missing {key} in {item}");
        }
    }
    let typo = items.iter().find(|d| d["code"] == "E0103").expect("the typo is reported");
    assert_eq!(typo["path"], "tests/cli/typo.kfl");
    assert_eq!(typo["start"]["line"], 33);
    assert_eq!(typo["start"]["column"], 30);
    assert_eq!(typo["help"], "did you mean `processed_data`?");
    let text = std::fs::read_to_string(root().join("tests/cli/typo.kfl")).expect("fixture");
    let range = typo["range"].as_array().expect("range");
    let start = range[0].as_u64().unwrap_or(0) as usize;
    let end = range[1].as_u64().unwrap_or(0) as usize;
    assert_eq!(&text[start..end], "procesed_data");
    insta::assert_snapshot!("check_typo_json", stdout);
}

#[test]
fn check_passes_on_examples() {
    let (code, _, stderr) = kflc(&["check", "examples"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains(": 0 errors, 0 warnings"), "{stderr}");
}

#[test]
fn warnings_alone_exit_zero_unless_denied() {
    let dir = tempdir("warn");
    let file = dir.join("w.kfl");
    std::fs::write(
        &file,
        "component c {\n    image = \"python\"\n    python \"\"\"\n        print(1)\n    \"\"\"\n}\n",
    )
    .expect("write");
    let path = file.to_string_lossy().to_string();
    let (code, _, stderr) = kflc(&["check", &path]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("W0012"), "{stderr}");
    let (code, _, _) = kflc(&["check", "--deny-warnings", &path]);
    assert_eq!(code, 1);
}

#[test]
fn explain_prints_the_documentation() {
    let (code, stdout, _) = kflc(&["explain", "E0103"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("# E0103: unknown-output"), "{stdout}");
    assert!(stdout.contains("## Example") && stdout.contains("## Fix"));
    let (code, stdout, _) = kflc(&["explain", "unresolved-name"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("# E0102"));
    let (code, stdout, _) = kflc(&["explain"]);
    assert_eq!(code, 0);
    let documented = std::fs::read_dir(root().join("crates/kfl-diagnostics/docs")).expect("docs").count();
    assert_eq!(stdout.lines().count(), documented);
    let (code, _, stderr) = kflc(&["explain", "E9999"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("no diagnostic code"));
}

#[test]
fn fmt_writes_formats_checks_and_refuses_broken_files() {
    let dir = tempdir("fmt");
    let file = dir.join("messy.kfl");
    std::fs::write(
        &file,
        "component   c{image=\"python:3.11-slim\"\n  // keep me\ninput x:Int=1 python \"\"\"\n  print(x)\n\"\"\"}\n",
    )
    .expect("write");
    let path = file.to_string_lossy().to_string();
    let (code, stdout, _) = kflc(&["fmt", "--check", &path]);
    assert_eq!(code, 1);
    assert!(stdout.contains("is not formatted"));
    let (code, _, stderr) = kflc(&["fmt", &path]);
    assert_eq!(code, 0, "{stderr}");
    let formatted = std::fs::read_to_string(&file).expect("read");
    assert!(formatted.contains("// keep me"));
    let (code, _, _) = kflc(&["fmt", "--check", &path]);
    assert_eq!(code, 0, "formatting is idempotent:\n{formatted}");
    let broken = dir.join("broken.kfl");
    std::fs::write(&broken, "component c {\n  input x: \n}\n").expect("write");
    let broken_path = broken.to_string_lossy().to_string();
    let (code, _, stderr) = kflc(&["fmt", &broken_path]);
    assert_eq!(code, 1);
    assert!(stderr.contains("E0001"), "{stderr}");
    let after = std::fs::read_to_string(&broken).expect("read");
    assert_eq!(after, "component c {\n  input x: \n}\n", "a broken file is left alone");
}

#[test]
fn github_format_annotates_each_diagnostic() {
    let (code, stdout, _) = kflc(&["check", "--format", "github", "tests/cli/typo.kfl"]);
    assert_eq!(code, 1);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{stdout}");
    let typo = lines.iter().find(|l| l.contains("E0103")).expect("the typo");
    assert!(
        typo.starts_with(
            "::error file=tests/cli/typo.kfl,line=33,endLine=33,col=30,endColumn=43,title=E0103 unknown-output::"
        ),
        "{typo}"
    );
    // Newlines inside the message are escaped, so each annotation stays on one line.
    assert!(typo.contains("%0Ahelp: did you mean `processed_data`?"), "{typo}");
    assert!(lines.iter().all(|l| l.starts_with("::error ")), "{stdout}");
}

#[test]
fn sarif_format_is_a_valid_log() {
    let (code, stdout, _) = kflc(&["check", "--format", "sarif", "tests/cli/typo.kfl"]);
    assert_eq!(code, 1);
    let log: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(log["version"], "2.1.0");
    let run = &log["runs"][0];
    assert_eq!(run["tool"]["driver"]["name"], "kflc");
    let rules = run["tool"]["driver"]["rules"].as_array().expect("rules");
    let results = run["results"].as_array().expect("results");
    assert_eq!(results.len(), 3);
    for result in results {
        let index = result["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(rules[index]["id"], result["ruleId"], "ruleIndex points at the rule");
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert!(region["startLine"].as_u64().unwrap_or(0) >= 1 && region["startColumn"].as_u64().unwrap_or(0) >= 1);
        assert!(["error", "warning"].contains(&result["level"].as_str().unwrap_or("")));
    }
    let typo = results.iter().find(|r| r["ruleId"] == "E0103").expect("typo");
    assert_eq!(typo["locations"][0]["physicalLocation"]["artifactLocation"]["uri"], "tests/cli/typo.kfl");
    assert_eq!(typo["locations"][0]["physicalLocation"]["region"]["startColumn"], 30);
    assert_eq!(typo["relatedLocations"][0]["message"]["text"], "`preprocess` is declared here");
}

#[test]
fn completions_are_generated_for_each_shell() {
    for shell in ["bash", "zsh", "fish"] {
        let (code, stdout, _) = kflc(&["completions", shell]);
        assert_eq!(code, 0);
        assert!(stdout.contains("kflc") && stdout.contains("check") && stdout.contains("explain"), "{shell}");
    }
}

#[test]
fn build_emits_both_targets_and_refuses_broken_pipelines() {
    let (code, stdout, stderr) = kflc(&["build", "examples/simple_training.kfl", "--target", "argo"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n"), "{stdout}");
    assert!(stdout.contains("nvidia.com/gpu"), "the GPU request reaches the Workflow");
    let (code, stdout, stderr) =
        kflc(&["build", "examples/quickstart.kfl", "--target", "kfp", "--param", "n_samples=300"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("schemaVersion: '2.1.0'"), "{stdout}");
    assert!(stdout.contains("300"), "--param sets the default");
    let (code, _, stderr) = kflc(&["build", "examples/quickstart.kfl", "--target", "kfp", "--param", "n_samples=many"]);
    assert_eq!(code, 2);
    assert!(stderr.starts_with("error[E0219]: --param `n_samples` expects an Int, got `many`"), "{stderr}");
    let (code, stdout, stderr) = kflc(&["build", "tests/cli/typo.kfl", "--target", "argo"]);
    assert_eq!(code, 1, "a pipeline with errors is never built");
    assert!(stdout.is_empty());
    assert!(stderr.contains("E0103") && stderr.contains("nothing was built"), "{stderr}");
}

#[test]
fn build_refuses_a_param_whose_elements_do_not_have_the_declared_type() {
    let dir = tempdir("param");
    let file = dir.join("sweep.kfl");
    std::fs::write(
        &file,
        "component train {\n    image = \"python:3.11-slim\"\n    input  sizes: List<List<Int>>\n    python \"\"\"\n        print(sizes)\n    \"\"\"\n}\n\npipeline sweep(sizes: List<List<Int>> = [[64]]) {\n    t = train(sizes: sizes)\n}\n",
    )
    .expect("write");
    let path = file.to_string_lossy().to_string();
    let (code, stdout, stderr) = kflc(&["build", &path, "--summary", "--param", "sizes=[[64, 32], [16]]"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.is_empty());
    for (value, message) in [
        (
            r#"sizes=[[64], ["a"]]"#,
            r#"error[E0219]: --param `sizes`: element sizes[1][0] is a String ("a"), expected Int"#,
        ),
        ("sizes=[[1.5]]", "error[E0219]: --param `sizes`: element sizes[0][0] is a Float (1.5), expected Int"),
        ("sizes=[64]", "error[E0219]: --param `sizes`: element sizes[0] is an Int (64), expected List<Int>"),
    ] {
        let (code, stdout, stderr) = kflc(&["build", &path, "--target", "kfp", "--param", value]);
        assert_eq!(code, 2, "{value}: {stderr}");
        assert!(stdout.is_empty(), "nothing is built for {value}");
        assert_eq!(
            stderr,
            format!("{message}\n  help: `sizes` is declared as List<List<Int>>; give it as JSON of that type\n"),
        );
    }
    let deep = format!("sizes={}{}", "[".repeat(10_000), "]".repeat(10_000));
    let (code, _, stderr) = kflc(&["build", &path, "--summary", "--param", &deep]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error[E0219]: ") && stderr.contains("recursion limit exceeded"), "{stderr}");
    assert!(stderr.len() < 400, "the value is cut short: {stderr}");

    let (code, _, stderr) = kflc(&[
        "build",
        "examples/nested_pipelines.kfl",
        "--pipeline",
        "daily_scoring",
        "--summary",
        "--param",
        "snapshot_date=2024-01-01",
        "--param",
        "regions=[\"emea\", 1]",
    ]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.starts_with("error[E0219]: --param `regions`: element regions[1] is an Int (1), expected String"),
        "{stderr}"
    );
}

#[test]
fn build_summary_and_graph_describe_the_dag() {
    let (code, stdout, stderr) = kflc(&["build", "examples/simple_training.kfl", "--summary"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("critical path") && stdout.contains("peak gpus              1"), "{stdout}");
    let (code, stdout, _) = kflc(&["graph", "examples/quickstart.kfl"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("flowchart TD"), "{stdout}");
    assert!(stdout.contains("subgraph") && stdout.contains("-->"));
    let (code, stdout, _) = kflc(&["graph", "examples/hyperparameter_sweep.kfl", "--format", "dot"]);
    assert_eq!(code, 0);
    assert!(stdout.starts_with("digraph") && stdout.contains("cluster_"), "{stdout}");
}

#[test]
fn apply_never_submits_a_pipeline_with_errors_and_explains_a_missing_cluster() {
    let (code, _, stderr) = kflc(&["apply", "tests/cli/typo.kfl", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("has no output `procesed_data`"), "the errors are shown, and nothing is sent: {stderr}");
    // Rendered as `kflc check` renders them: code, file and line, help.
    assert!(stderr.contains("E0103") && stderr.contains("typo.kfl:"), "{stderr}");
    assert!(stderr.contains("nothing was submitted") && !stderr.contains("Kubernetes"), "{stderr}");
    // The same before Kubeflow Pipelines is called: nothing is uploaded (the endpoint is not even tried).
    let (code, _, stderr) =
        kflc(&["apply", "tests/cli/typo.kfl", "--backend", "kfp", "--endpoint", "http://127.0.0.1:1"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("E0103") && stderr.contains("nothing was submitted"), "{stderr}");
    assert!(!stderr.contains("cannot reach") && !stderr.contains("Kubeflow"), "{stderr}");
    let (code, _, stderr) = kflc(&["plan", "tests/cli/typo.kfl", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("E0103") && stderr.contains("nothing was planned"), "{stderr}");
    let (code, _, stderr) = kflc(&["apply", "examples/quickstart.kfl", "--kubeconfig", "/nonexistent/kubeconfig"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("no Kubernetes configuration found"), "{stderr}");
    let (code, _, stderr) = kflc(&["apply", "examples/quickstart.kfl", "--dry-run=sometimes"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("--dry-run"), "{stderr}");
}

/// A setting the chosen backend cannot express is a note naming the setting and the task; the
/// build succeeds, and the other backend emits it.
#[test]
fn build_notes_settings_the_target_cannot_express() {
    let dir = tempdir("not-applicable");
    let file = dir.join("scratch.kfl");
    std::fs::write(
        &file,
        "component step {\n    output out: String\n    resources { ephemeral_storage = 10Gi }\n    sh \"\"\"\n        echo ok > \"$out\"\n    \"\"\"\n}\n\npipeline p() {\n    s = step()\n    output o = s.out\n}\n",
    )
    .expect("write");
    let path = file.to_string_lossy().into_owned();
    let (code, stdout, stderr) = kflc(&["build", &path, "--target", "kfp"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("pipelineInfo"), "{stdout}");
    assert!(!stdout.contains("ephemeral"), "{stdout}");
    assert!(
        stderr.contains("note: `resources.ephemeral_storage` is left out") && stderr.contains("task `s`"),
        "{stderr}"
    );
    let (code, stdout, stderr) = kflc(&["build", &path, "--target", "argo"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains("ephemeral-storage: 10Gi"), "{stdout}");
    assert!(!stderr.contains("note:"), "{stderr}");
}

#[test]
fn run_refuses_a_parameter_without_a_value_with_its_code() {
    let (code, _, stderr) = kflc(&["run", "examples/simple_training.kfl", "--host", "--root", "/nonexistent/kfl"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.starts_with("error[E0220]: the pipeline parameter `data_url: String`"), "{stderr}");
    assert!(stderr.ends_with("nothing was run\n"), "{stderr}");
}

#[test]
fn build_for_argo_warns_about_each_parameter_left_without_a_value() {
    let (code, stdout, stderr) = kflc(&["build", "examples/simple_training.kfl", "--target", "argo"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.starts_with("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\n"), "{stdout}");
    assert!(
        stderr.contains(
            "warning[W0014]: the Workflow's parameter `data_url` has no value: Argo refuses it as it is\n  \
             help: submit it with `argo submit -p data_url=…`, or build it with `--param data_url=…`\n"
        ),
        "{stderr}"
    );
    // Given a value, or for Kubeflow Pipelines (where it is a required run parameter), nothing is said.
    for args in [
        &["build", "examples/simple_training.kfl", "--target", "argo", "--param", "data_url=https://x/y.csv"][..],
        &["build", "examples/simple_training.kfl", "--target", "kfp"][..],
    ] {
        let (code, _, stderr) = kflc(args);
        assert_eq!(code, 0, "{stderr}");
        assert!(!stderr.contains("W0014"), "{args:?}: {stderr}");
    }
}
