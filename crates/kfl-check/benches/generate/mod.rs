//! Generates realistic KFL projects for the benchmarks (`benches/check.rs`) and for the test that
//! keeps the generator honest (`tests/generated.rs`, which includes this file with `#[path]`).
//!
//! Invariant: everything generated here checks with no diagnostic at all, not even a warning, so
//! that the benchmarks measure the path a correct program takes.
//!
//! A pipeline is made of segments of [`TASKS_PER_SEGMENT`] task statements each:
//!
//! ```text
//! load ─▶ clean ─▶ feat ─┬─▶ join ─▶ for lr { trial ─▶ score } ─▶ best ─▶ if … { publish } else { alert }
//!           └────────────│──▶ (join of segment 0)   ▲        feat ─┘        └─(after)─▶ done
//!      join of the previous segment ─────────────────┘
//! ```
//!
//! Chains (`load → clean → feat`), fan-out (`feat` feeds `join` and every `score`), a `for` loop
//! with fan-in (`best` reads the lists `trial.model` and `score.accuracy`), an `if`/`else`, `after`
//! (`done` waits for `best`, the next segment's `load` waits for `done`), and a chain through the
//! segments (`join` reads the previous `join`).

#![allow(dead_code)] // The test uses part of it, the benchmarks another part.

/// Task statements per segment (a task in a `for` loop counts once).
pub const TASKS_PER_SEGMENT: usize = 10;

/// The path of the components library in a generated multi-file project.
pub const LIBRARY_PATH: &str = "lib/components.kfl";

/// The line of the library's `transform` script that [`edit_library_script`] rewrites.
const SCRIPT_LINE: &str = "        print(f\"{mode}: {len(df)} rows\")\n";

/// The components every generated pipeline calls: script (python, sh) and container forms, with
/// inputs, outputs, defaults, resources, env, node selectors and tolerations.
pub fn components() -> String {
    r#"// Components shared by the generated pipelines.

/// Reads one shard of raw events from object storage.
component load_data {
    image = "python:3.11-slim"
    packages = ["pandas==2.2.3", "gcsfs==2024.10.0"]

    /// A `gs://` URI of a CSV file.
    input source: String
    input seed: Int = 0
    output data: Dataset

    resources { cpu = 1, memory = 2Gi }
    retries = 2
    timeout = 20m

    python """
        import pandas as pd

        df = pd.read_csv(source).sample(frac=1.0, random_state=seed)
        df.to_csv(data.path, index=False)
        print(f"{len(df)} rows from {source}")
    """
}

/// Applies one named transformation to a dataset.
component transform {
    image = "python:3.11-slim"
    packages = ["pandas==2.2.3", "numpy==2.1.3"]

    input data: Dataset
    /// One of `clean`, `normalize` or `features`.
    input mode: String
    /// Scale of the `features` transformation.
    input factor: Float = 1.0
    output result: Dataset

    resources { cpu = 2, memory = 4Gi, memory_limit = 6Gi }

    python """
        import numpy as np
        import pandas as pd

        df = pd.read_csv(data.path)
        numeric = df.select_dtypes("number").columns
        if mode == "clean":
            df = df.dropna().drop_duplicates()
        elif mode == "normalize":
            df[numeric] = (df[numeric] - df[numeric].mean()) / df[numeric].std(ddof=0).replace(0, 1)
        else:
            df[numeric] = np.log1p(df[numeric].clip(lower=0)) * factor
        df.to_csv(result.path, index=False)
        print(f"{mode}: {len(df)} rows")
    """
}

/// Concatenates two datasets.
component merge {
    image = "python:3.11-slim"
    packages = ["pandas==2.2.3"]

    input left: Dataset
    input right: Dataset
    output merged: Dataset

    python """
        import pandas as pd

        out = pd.concat([pd.read_csv(left.path), pd.read_csv(right.path)], ignore_index=True)
        out.to_csv(merged.path, index=False)
    """
}

/// Trains a model on a GPU in the team's training image.
component train {
    image = "ghcr.io/acme/trainer:1.4.2"

    input data: Dataset
    /// Initial learning rate of the optimiser.
    input learning_rate: Float
    input epochs: Int = 10
    output model: Model
    /// The loss curve.
    output metrics: Metrics

    resources { cpu = 4, memory = 16Gi, gpu = 1, accelerator = "nvidia-tesla-t4" }
    node_selector { "cloud.google.com/gke-nodepool" = "gpu-pool" }
    tolerations = [
        { key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" },
    ]
    timeout = 2h

    command = ["python", "-m", "trainer.fit"]
    args = [
        "--data", data.path,
        "--learning-rate", learning_rate,
        "--epochs", epochs,
        "--model", model.path,
        "--metrics", metrics.path,
    ]
}

/// Scores a model on held-out data.
component evaluate {
    image = "python:3.11-slim"
    packages = ["scikit-learn==1.5.2", "pandas==2.2.3"]

    input model: Model
    input data: Dataset
    /// Accuracy on `data`.
    output accuracy: Float
    output report: HTML

    python """
        import pickle

        import pandas as pd

        with open(model.path, "rb") as f:
            classifier = pickle.load(f)
        df = pd.read_csv(data.path)
        accuracy = float(classifier.score(df.drop(columns=["label"]), df["label"]))
        with open(report.path, "w") as f:
            f.write(f"<p>accuracy {accuracy:.4f}</p>")
    """
}

/// Picks the trial with the highest accuracy.
component select_best {
    image = "python:3.11-slim"

    input models: List<Model>
    input scores: List<Float>
    output best: Model
    output best_score: Float

    python """
        import shutil

        i = max(range(len(models)), key=lambda i: scores[i])
        shutil.copyfile(models[i].path, best.path)
        best_score = scores[i]
    """
}

/// Pushes a model to the model registry.
component publish {
    image = "ghcr.io/acme/registry-client:0.9.1"

    input model: Model
    input model_name: String

    cache = false
    env { REGISTRY_TOKEN = secret(name: "model-registry", key: "token") }

    command = ["registry", "push"]
    args = ["--name", model_name, "--artifact", model.uri]
}

/// Posts a message to the team's Slack channel.
component notify {
    image = "curlimages/curl:8.10.1"

    input message: String

    cache = false
    env { SLACK_WEBHOOK_URL = secret(name: "slack-webhook", key: "url") }

    sh """
        set -eu
        curl --fail --silent -X POST --data "{\"text\": \"$message\"}" "$SLACK_WEBHOOK_URL"
    """
}
"#
    .to_string()
}

/// A pipeline named `name` with `tasks` task statements (rounded up to whole segments).
pub fn pipeline(name: &str, tasks: usize) -> String {
    use std::fmt::Write;
    let segments = tasks.div_ceil(TASKS_PER_SEGMENT).max(1);
    let mut out = String::with_capacity(segments * 1600);
    let _ = write!(
        out,
        r#"/// Trains and publishes one model per data shard ({segments} shards).
pipeline {name}(
    seed: Int = 0,
    /// One training trial per learning rate.
    learning_rates: List<Float> = [0.001, 0.01, 0.1],
    /// Publish a shard's model only at or above this accuracy.
    min_accuracy: Float = 0.8,
    skip_publish: Bool = false,
) {{
    description = "Generated: {segments} shards, {tasks} tasks."
"#,
        tasks = segments * TASKS_PER_SEGMENT,
    );
    for i in 0..segments {
        let _ = write!(out, "\n    // Shard {i}.\n");
        if i == 0 {
            let _ =
                writeln!(out, "    load_{i} = load_data(source: \"gs://acme-data/{name}/shard-{i}.csv\", seed: seed)");
        } else {
            let _ = writeln!(
                out,
                "    load_{i} = load_data(source: \"gs://acme-data/{name}/shard-{i}.csv\", seed: seed) {{\n        after = [done_{}]\n    }}",
                i - 1
            );
        }
        let right = if i == 0 { "clean_0.result".to_string() } else { format!("join_{}.merged", i - 1) };
        let _ = write!(
            out,
            r#"    clean_{i} = transform(data: load_{i}.data, mode: "clean")
    feat_{i} = transform(data: clean_{i}.result, mode: "features", factor: 0.5)
    join_{i} = merge(left: feat_{i}.result, right: {right})
    for lr in learning_rates parallel 2 {{
        trial_{i} = train(data: join_{i}.merged, learning_rate: lr) {{
            retries = 1
        }}
        score_{i} = evaluate(model: trial_{i}.model, data: feat_{i}.result)
    }}
    best_{i} = select_best(models: trial_{i}.model, scores: score_{i}.accuracy)
    if best_{i}.best_score >= min_accuracy and not skip_publish {{
        publish_{i} = publish(model: best_{i}.best, model_name: "{name}-shard-{i}")
    }} else {{
        alert_{i} = notify(message: "shard {i} of {name} is below the accuracy threshold")
    }}
    done_{i} = notify(message: "shard {i} of {name} is done") {{
        after = [best_{i}]
    }}
"#
        );
    }
    let last = segments - 1;
    let _ = write!(out, "\n    output all_data = join_{last}.merged\n    output last_model = best_{last}.best\n}}\n");
    out
}

/// One file: the components, then a pipeline of `tasks` task statements.
pub fn single_file(tasks: usize) -> String {
    let mut text = components();
    text.push('\n');
    text.push_str(&pipeline("generated", tasks));
    text
}

/// A project of a components library ([`LIBRARY_PATH`]) and `pipelines` files that import it,
/// each with a pipeline of `tasks` task statements. Paths are relative to the project's root.
pub fn multi_file(pipelines: usize, tasks: usize) -> Vec<(String, String)> {
    let mut files = vec![(LIBRARY_PATH.to_string(), components())];
    for p in 0..pipelines {
        let mut text = String::from("/// The shared components.\nimport \"../lib/components.kfl\"\n\n");
        text.push_str(&pipeline(&format!("shards_{p}"), tasks));
        files.push((format!("pipelines/shards_{p}.kfl"), text));
    }
    files
}

/// A one-line edit of a generated pipeline: changes the string argument of its first `load` task.
/// `variant` picks the new value, so that successive edits differ.
pub fn edit_pipeline_string(text: &str, variant: usize) -> String {
    let from = "/shard-0.csv\"";
    let to = format!("/shard-0-v{variant}.csv\"");
    assert!(text.contains(from), "not a generated pipeline");
    text.replacen(from, &to, 1)
}

/// A one-line edit inside the script of `transform` in the library: signatures stay the same.
/// `variant` picks the new line, so that successive edits differ.
pub fn edit_library_script(text: &str, variant: usize) -> String {
    assert!(text.contains(SCRIPT_LINE), "not the generated library");
    text.replacen(SCRIPT_LINE, &format!("        print(f\"{{mode}} (edit {variant}): {{len(df)}} rows\")\n"), 1)
}
