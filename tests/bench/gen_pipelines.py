#!/usr/bin/env python3
"""Generates one pipeline twice: as a KFL file and as the equivalent kfp SDK (v2) Python program.

    gen_pipelines.py SHAPE TASKS OUT.kfl OUT.py [OUT_HERA.py]

SHAPE is one of:

- ``segments``: TASKS rounded up to whole segments of ten tasks over seven components::

      load ─▶ clean ─▶ feat ─▶ join ─┬─▶ train_a ─▶ eval_a ─┬─▶ best ─▶ publish
        (join of the previous segment)└─▶ train_b ─▶ eval_b ─┘
                          feat ───────────────────▶ (both evals)

  chains, fan-out (``feat`` feeds ``join`` and both evaluations, ``join`` both trainings), fan-in
  (``best`` reads both models and both accuracies, ``join`` the previous segment's ``join``), artifact
  and parameter passing, pipeline parameters and a pipeline output.
- ``one``: TASKS tasks of a single component, chained through an output parameter.

Both files declare the same components (same names, inputs, outputs, defaults, image and Python body)
and the same tasks with the same arguments; the Python program compiles its pipeline with
``kfp.compiler.Compiler().compile`` to the path given as its first argument and prints the time taken
to define the pipeline (kfp traces the pipeline function when ``@dsl.pipeline`` runs) and to compile it
as JSON on its last line of output.

With a fifth argument it also writes the same pipeline as a Hera (Argo Workflows' Python SDK) program:
the same components as ``@script`` templates (same image and body, inputs and outputs declared as
Parameters and Artifacts), one DAG with the same tasks, arguments and dependencies, pipeline parameters
as Workflow arguments and the pipeline output as a DAG output. It writes the Workflow with
``Workflow.to_yaml()`` to the path given as its first argument and prints the same timing JSON
(``define_s``: building the Workflow object; ``compile_s``: ``to_yaml()`` and writing the file).
"""

import sys
import textwrap

IMAGE = "python:3.11-slim"
TASKS_PER_SEGMENT = 10

# name -> (inputs [(name, type, default or None)], outputs [(name, type)], body)
# Types are KFL's; artifact types are Dataset, Model, Metrics. The body reads inputs as variables
# (artifacts through `.path`), writes output artifacts to `.path` and assigns scalar outputs.
COMPONENTS = {
    "make_data": (
        [("seed", "Int", None), ("shard", "Int", None)],
        [("data", "Dataset")],
        """
        import csv
        import random

        rng = random.Random(seed * 1000 + shard)
        with open(data.path, "w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["x1", "x2", "label"])
            for _ in range(200):
                x1, x2 = rng.uniform(-3, 3), rng.uniform(-3, 3)
                writer.writerow([x1, x2, int(0.8 * x1 - 0.5 * x2 > 0)])
        """,
    ),
    "transform": (
        [("data", "Dataset", None), ("mode", "String", None), ("factor", "Float", "1.0")],
        [("result", "Dataset")],
        """
        import csv

        with open(data.path, newline="") as f:
            rows = list(csv.DictReader(f))
        if mode == "clean":
            rows = [r for r in rows if r["x1"] and r["x2"]]
        with open(result.path, "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=["x1", "x2", "label"])
            writer.writeheader()
            for r in rows:
                if mode == "features":
                    r["x1"] = float(r["x1"]) * factor
                    r["x2"] = float(r["x2"]) * factor
                writer.writerow(r)
        """,
    ),
    "merge": (
        [("left", "Dataset", None), ("right", "Dataset", None)],
        [("merged", "Dataset")],
        """
        with open(merged.path, "w") as out:
            with open(left.path) as f:
                out.write(f.read())
            with open(right.path) as f:
                out.writelines(f.readlines()[1:])
        """,
    ),
    "train": (
        [("data", "Dataset", None), ("learning_rate", "Float", None), ("epochs", "Int", "10")],
        [("model", "Model")],
        """
        import csv
        import json
        import math

        with open(data.path, newline="") as f:
            rows = [(float(r["x1"]), float(r["x2"]), int(r["label"])) for r in csv.DictReader(f)]
        w, b = [0.0, 0.0], 0.0
        for _ in range(epochs):
            for x1, x2, label in rows:
                p = 1.0 / (1.0 + math.exp(-max(-30.0, min(30.0, w[0] * x1 + w[1] * x2 + b))))
                w[0] -= learning_rate * (p - label) * x1
                w[1] -= learning_rate * (p - label) * x2
                b -= learning_rate * (p - label)
        with open(model.path, "w") as f:
            json.dump({"weights": w, "bias": b}, f)
        """,
    ),
    "evaluate": (
        [("model", "Model", None), ("data", "Dataset", None)],
        [("accuracy", "Float"), ("metrics", "Metrics")],
        """
        import csv
        import json

        with open(model.path) as f:
            params = json.load(f)
        w, b = params["weights"], params["bias"]
        with open(data.path, newline="") as f:
            rows = [(float(r["x1"]), float(r["x2"]), int(r["label"])) for r in csv.DictReader(f)]
        correct = sum(1 for x1, x2, label in rows if int(w[0] * x1 + w[1] * x2 + b > 0) == label)
        accuracy = correct / len(rows)
        with open(metrics.path, "w") as f:
            json.dump({"accuracy": accuracy}, f)
        """,
    ),
    "select_best": (
        [("model_a", "Model", None), ("accuracy_a", "Float", None),
         ("model_b", "Model", None), ("accuracy_b", "Float", None)],
        [("best", "Model"), ("best_accuracy", "Float")],
        """
        import shutil

        chosen = model_a if accuracy_a >= accuracy_b else model_b
        shutil.copyfile(chosen.path, best.path)
        best_accuracy = max(accuracy_a, accuracy_b)
        """,
    ),
    "publish": (
        [("model", "Model", None), ("accuracy", "Float", None), ("name", "String", None)],
        [],
        """
        with open(model.path) as f:
            size = len(f.read())
        print(f"publishing {name}: {size} bytes, accuracy {accuracy:.3f}")
        """,
    ),
    "step": (
        [("x", "Int", None), ("shard", "Int", None)],
        [("total", "Int")],
        """
        import random

        rng = random.Random(shard)
        total = x + sum(rng.randint(0, 9) for _ in range(10))
        print(f"shard {shard}: {total}")
        """,
    ),
}

ARTIFACTS = {"Dataset", "Model", "Metrics"}
PY_TYPES = {"Int": "int", "Float": "float", "String": "str", "Bool": "bool"}


def body(name):
    return textwrap.dedent(COMPONENTS[name][2]).strip("\n")


def kfl_component(name):
    inputs, outputs, _ = COMPONENTS[name]
    lines = [f"component {name} {{", f'    image = "{IMAGE}"', ""]
    for n, t, d in inputs:
        lines.append(f"    input {n}: {t}" + (f" = {d}" if d is not None else ""))
    for n, t in outputs:
        lines.append(f"    output {n}: {t}")
    lines += ["", '    python """']
    lines += [("        " + l) if l else "" for l in body(name).split("\n")]
    lines += ['    """', "}", ""]
    return "\n".join(lines)


def py_component(name):
    inputs, outputs, _ = COMPONENTS[name]
    required, defaulted = [], []
    for n, t, d in inputs:
        annotation = f"Input[{t}]" if t in ARTIFACTS else PY_TYPES[t]
        if d is None:
            required.append(f"{n}: {annotation}")
        else:
            defaulted.append(f"{n}: {annotation} = {d}")
    # Python wants parameters with defaults last.
    params = required + [f"{n}: Output[{t}]" for n, t in outputs if t in ARTIFACTS] + defaulted
    scalars = [(n, t) for n, t in outputs if t not in ARTIFACTS]
    fields = ", ".join(f"('{n}', {PY_TYPES[t]})" for n, t in scalars)
    ret = f" -> NamedTuple('Outputs', [{fields}])" if scalars else ""
    lines = [f'@dsl.component(base_image="{IMAGE}")', f"def {name}({', '.join(params)}){ret}:"]
    lines += [("    " + l) if l else "" for l in body(name).split("\n")]
    if scalars:
        lines.append(f"    return NamedTuple('Outputs', [{fields}])({', '.join(n for n, _ in scalars)})")
    lines += ["", ""]
    return "\n".join(lines)


# A task: (name, component, [(input, value)]) where a value is ("ref", task, output), ("param", name)
# or ("lit", python-literal text, which is also KFL literal text).
def segments(tasks):
    out = []
    n = max(1, -(-tasks // TASKS_PER_SEGMENT))
    for i in range(n):
        right = ("ref", "clean_0", "result") if i == 0 else ("ref", f"join_{i - 1}", "merged")
        out += [
            (f"load_{i}", "make_data", [("seed", ("param", "seed")), ("shard", ("lit", str(i)))]),
            (f"clean_{i}", "transform", [("data", ("ref", f"load_{i}", "data")), ("mode", ("lit", '"clean"'))]),
            (f"feat_{i}", "transform", [("data", ("ref", f"clean_{i}", "result")), ("mode", ("lit", '"features"')),
                                        ("factor", ("lit", "0.5"))]),
            (f"join_{i}", "merge", [("left", ("ref", f"feat_{i}", "result")), ("right", right)]),
            (f"train_a_{i}", "train", [("data", ("ref", f"join_{i}", "merged")),
                                       ("learning_rate", ("param", "learning_rate"))]),
            (f"train_b_{i}", "train", [("data", ("ref", f"join_{i}", "merged")), ("learning_rate", ("lit", "0.01")),
                                       ("epochs", ("lit", "20"))]),
            (f"eval_a_{i}", "evaluate", [("model", ("ref", f"train_a_{i}", "model")),
                                         ("data", ("ref", f"feat_{i}", "result"))]),
            (f"eval_b_{i}", "evaluate", [("model", ("ref", f"train_b_{i}", "model")),
                                         ("data", ("ref", f"feat_{i}", "result"))]),
            (f"best_{i}", "select_best", [("model_a", ("ref", f"train_a_{i}", "model")),
                                          ("accuracy_a", ("ref", f"eval_a_{i}", "accuracy")),
                                          ("model_b", ("ref", f"train_b_{i}", "model")),
                                          ("accuracy_b", ("ref", f"eval_b_{i}", "accuracy"))]),
            (f"publish_{i}", "publish", [("model", ("ref", f"best_{i}", "best")),
                                         ("accuracy", ("ref", f"best_{i}", "best_accuracy")),
                                         ("name", ("lit", f'"shard-{i}"'))]),
        ]
    params = [("seed", "Int", "0"), ("learning_rate", "Float", "0.1")]
    output = ("best_model", "Model", f"best_{n - 1}", "best")
    return params, out, output


def one(tasks):
    out = []
    for i in range(tasks):
        x = ("param", "seed") if i == 0 else ("ref", f"step_{i - 1}", "total")
        out.append((f"step_{i}", "step", [("x", x), ("shard", ("lit", str(i)))]))
    return [("seed", "Int", "0")], out, ("total", "Int", f"step_{tasks - 1}", "total")


def kfl_file(pipeline_name, params, tasks, output):
    used = sorted({c for _, c, _ in tasks}, key=list(COMPONENTS).index)
    parts = [f"// Generated by tests/bench/gen_pipelines.py: {len(tasks)} tasks.\n"]
    parts += [kfl_component(c) for c in used]
    sig = ", ".join(f"{n}: {t} = {d}" for n, t, d in params)
    lines = [f"pipeline {pipeline_name}({sig}) {{"]
    for name, comp, args in tasks:
        rendered = []
        for n, v in args:
            if v[0] == "ref":
                rendered.append(f"{n}: {v[1]}.{v[2]}")
            else:
                rendered.append(f"{n}: {v[1]}")
        lines.append(f"    {name} = {comp}({', '.join(rendered)})")
    out_name, _, task, out = output
    lines += ["", f"    output {out_name} = {task}.{out}", "}", ""]
    parts.append("\n".join(lines))
    return "\n".join(parts)


def py_file(pipeline_name, params, tasks, output):
    used = sorted({c for _, c, _ in tasks}, key=list(COMPONENTS).index)
    parts = [
        f"# Generated by tests/bench/gen_pipelines.py: {len(tasks)} tasks.",
        "import json",
        "import sys",
        "import time",
        "from typing import NamedTuple",
        "",
        "started = time.perf_counter()",
        "from kfp import compiler, dsl",
        "from kfp.dsl import Dataset, Input, Metrics, Model, Output",
        "",
        "imported = time.perf_counter()",
        "",
        "",
    ]
    parts += [py_component(c) for c in used]
    sig = ", ".join(f"{n}: {PY_TYPES[t]} = {d}" for n, t, d in params)
    out_name, out_type, out_task, out_output = output
    ret = out_type if out_type in ARTIFACTS else PY_TYPES[out_type]
    lines = [f'@dsl.pipeline(name="{pipeline_name.replace("_", "-")}")', f"def {pipeline_name}({sig}) -> {ret}:"]
    for name, comp, args in tasks:
        rendered = []
        for n, v in args:
            if v[0] == "ref":
                rendered.append(f"{n}={v[1]}.outputs[{v[2]!r}]")
            else:
                rendered.append(f"{n}={v[1]}")
        lines.append(f"    {name} = {comp}({', '.join(rendered)})")
    lines += [f"    return {out_task}.outputs[{out_output!r}]", "", ""]
    parts.append("\n".join(lines))
    parts.append(
        "\n".join([
            "defined = time.perf_counter()",
            f"compiler.Compiler().compile({pipeline_name}, package_path=sys.argv[1])",
            "compiled = time.perf_counter()",
            'print(json.dumps({"import_s": imported - started, "define_s": defined - imported, '
            '"compile_s": compiled - defined}))',
            "",
        ])
    )
    return "\n".join(parts)


def kebab(name):
    return name.replace("_", "-")


def hera_component(name):
    inputs, outputs, _ = COMPONENTS[name]
    ins = []
    for n, t, d in inputs:
        if t in ARTIFACTS:
            ins.append(f'Artifact(name="{n}", path="/tmp/inputs/{n}")')
        else:
            ins.append(f'Parameter(name="{n}"' + (f', default="{d}"' if d is not None else "") + ")")
    outs = []
    for n, t in outputs:
        if t in ARTIFACTS:
            outs.append(f'Artifact(name="{n}", path="/tmp/outputs/{n}")')
        else:
            outs.append(f'Parameter(name="{n}", value_from=ValueFrom(path="/tmp/outputs/{n}"))')
    params = [n for n, t, _ in inputs if t not in ARTIFACTS]
    lines = [
        f'@script(image="{IMAGE}", inputs=[{", ".join(ins)}], outputs=[{", ".join(outs)}])',
        f"def {name}({', '.join(params)}):",
    ]
    lines += [("    " + l) if l else "" for l in body(name).split("\n")]
    lines += ["", ""]
    return "\n".join(lines)


def hera_file(pipeline_name, params, tasks, output):
    used = sorted({c for _, c, _ in tasks}, key=list(COMPONENTS).index)
    parts = [
        f"# Generated by tests/bench/gen_pipelines.py: {len(tasks)} tasks.",
        "import json",
        "import sys",
        "import time",
        "",
        "started = time.perf_counter()",
        "from hera.workflows import DAG, Artifact, Parameter, Workflow, script",
        "from hera.workflows.models import ValueFrom",
        "",
        "imported = time.perf_counter()",
        "",
        "",
    ]
    parts += [hera_component(c) for c in used]
    out_name, out_type, out_task, out_output = output
    kind = "artifacts" if out_type in ARTIFACTS else "parameters"
    out_cls = "Artifact" if out_type in ARTIFACTS else "Parameter"
    out_from = f"{{{{tasks.{kebab(out_task)}.outputs.{kind}.{out_output}}}}}"
    out_decl = (f'{out_cls}(name="{out_name}", from_="{out_from}")' if out_type in ARTIFACTS
                else f'{out_cls}(name="{out_name}", value_from=ValueFrom(parameter="{out_from}"))')
    wf_params = ", ".join(f'Parameter(name="{n}", value="{d}")' for n, _, d in params)
    lines = [
        "",
        f'with Workflow(generate_name="{kebab(pipeline_name)}-", entrypoint="main", arguments=[{wf_params}]) as w:',
        f"    with DAG(name=\"main\", outputs=[{out_decl}]):",
    ]
    for name, comp, args in tasks:
        inputs = {n: t for n, t, _ in COMPONENTS[comp][0]}
        rendered, deps = [], []
        for n, v in args:
            if v[0] == "ref":
                getter = "get_artifact" if inputs[n] in ARTIFACTS else "get_parameter"
                rendered.append(f'{v[1]}.{getter}("{v[2]}").with_name("{n}")')
                if v[1] not in deps:
                    deps.append(v[1])
            elif v[0] == "param":
                rendered.append(f'Parameter(name="{n}", value="{{{{workflow.parameters.{v[1]}}}}}")')
            else:
                value = v[1][1:-1] if v[1].startswith('"') else v[1]
                rendered.append(f'Parameter(name="{n}", value="{value}")')
        lines.append(f'        {name} = {comp}(name="{kebab(name)}", arguments=[{", ".join(rendered)}])')
        if deps:
            lines.append(f"        [{', '.join(deps)}] >> {name}" if len(deps) > 1 else f"        {deps[0]} >> {name}")
    lines += ["", ""]
    parts.append("\n".join(lines))
    parts.append(
        "\n".join([
            "defined = time.perf_counter()",
            "with open(sys.argv[1], \"w\") as f:",
            "    f.write(w.to_yaml())",
            "compiled = time.perf_counter()",
            'print(json.dumps({"import_s": imported - started, "define_s": defined - imported, '
            '"compile_s": compiled - defined}))',
            "",
        ])
    )
    return "\n".join(parts)


def main():
    shape, tasks, kfl_path, py_path = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    params, task_list, output = {"segments": segments, "one": one}[shape](tasks)
    name = f"{shape}_{tasks}"
    with open(kfl_path, "w") as f:
        f.write(kfl_file(name, params, task_list, output))
    with open(py_path, "w") as f:
        f.write(py_file(name, params, task_list, output))
    if len(sys.argv) > 5:
        with open(sys.argv[5], "w") as f:
            f.write(hera_file(name, params, task_list, output))


if __name__ == "__main__":
    main()
