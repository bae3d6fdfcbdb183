"""Every editor feature against the three-file workspace: completion, hover, navigation, rename,
formatting, symbols, semantic tokens, inlay hints, code actions, signature help and folding."""

from __future__ import annotations

import pathlib
from urllib.parse import unquote, urlparse

import pytest
from lsprotocol import types
from pytest_lsp import LanguageClient

from conftest import apply_edits, change_document, edit, open_document, pos, uri_of


def doc(path: pathlib.Path) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri_of(path))


def path_of(uri: str) -> pathlib.Path:
    return pathlib.Path(unquote(urlparse(uri).path))


async def complete(client: LanguageClient, path: pathlib.Path, at: types.Position) -> list[types.CompletionItem]:
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(path), position=at)
    )
    if result is None:
        return []
    return list(result.items if isinstance(result, types.CompletionList) else result)


async def hover_text(client: LanguageClient, path: pathlib.Path, at: types.Position) -> str:
    result = await client.text_document_hover_async(types.HoverParams(text_document=doc(path), position=at))
    assert result is not None
    assert isinstance(result.contents, types.MarkupContent)
    return result.contents.value


@pytest.fixture
def main(workspace: pathlib.Path) -> pathlib.Path:
    return workspace / "main.kfl"


# --------------------------------------------------------------------------------------------------
# Completion


async def test_completion_of_components_pipelines_and_keywords(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8").replace("    output model", "    \n    output model")
    await open_document(client, main, text)
    items = await complete(client, main, pos(text, "    \n", 4))
    labels = {i.label for i in items}
    # Components of this file and of both imported files, the pipeline itself, statement keywords.
    assert {"publish", "download_csv", "clean_data", "train_model", "training"} <= labels, labels
    assert {"if", "for", "finally", "output"} <= labels
    train = next(i for i in items if i.label == "train_model")
    assert train.kind == types.CompletionItemKind.Function
    assert "train_data: Dataset" in (train.detail or "")
    assert "checkpoint: Checkpoint" in (train.detail or "")


async def test_completion_of_named_arguments_required_first(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8").replace(
        "    output model", "    again = train_model(epochs: 1, )\n    output model"
    )
    await open_document(client, main, text)
    items = await complete(client, main, pos(text, "epochs: 1, ", 11))
    labels = [i.label for i in sorted(items, key=lambda i: i.sort_text or i.label)]
    # `epochs` is passed already; `train_data` (required) comes before `learning_rate`.
    assert labels == ["train_data", "learning_rate"], labels
    first = sorted(items, key=lambda i: i.sort_text or i.label)[0]
    assert first.detail == "Dataset (required)"
    assert isinstance(first.text_edit, types.TextEdit) and first.text_edit.new_text == "train_data: "
    optional = next(i for i in items if i.label == "learning_rate")
    assert optional.detail == "Float = 0.001"


async def test_completion_of_a_tasks_outputs(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8").replace("output rows = cleaned.rows", "output rows = trained.")
    await open_document(client, main, text)
    items = await complete(client, main, pos(text, "trained.\n", 8))
    assert [(i.label, i.detail) for i in items] == [
        ("checkpoint", "Checkpoint: output of train_model"),
        ("accuracy", "Float: output of train_model"),
    ]


async def test_completion_of_units_in_resources(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8").replace("memory = 32Gi", "memory = 4")
    await open_document(client, main, text)
    items = await complete(client, main, pos(text, "memory = 4", 10))
    labels = [i.label for i in items]
    assert {"Gi", "Mi", "Ki", "G"} <= set(labels), labels
    gi = next(i for i in items if i.label == "Gi")
    assert isinstance(gi.text_edit, types.TextEdit)
    assert gi.text_edit.range.start == pos(text, "memory = 4", 10)
    # Half-typed unit: the edit replaces what is there.
    text2 = text.replace("memory = 4", "memory = 4G")
    await change_document(client, main, 2, [types.TextDocumentContentChangeWholeDocument(text=text2)])
    items = await complete(client, main, pos(text2, "memory = 4G", 11))
    gi = next(i for i in items if i.label == "Gi")
    assert gi.text_edit.range.start == pos(text2, "memory = 4G", 10)
    # A duration: `timeout = 2` offers time units.
    text3 = text2.replace("timeout = 2h", "timeout = 2")
    await change_document(client, main, 3, [types.TextDocumentContentChangeWholeDocument(text=text3)])
    items = await complete(client, main, pos(text3, "timeout = 2", 11))
    assert [i.label for i in items] == ["s", "m", "h", "d"]


async def test_completion_of_artifact_types(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8").replace(
        '    input note:       String = "ok"', '    input note:       String = "ok"\n    output report: '
    )
    await open_document(client, main, text)
    items = await complete(client, main, pos(text, "output report: ", 15))
    labels = {i.label for i in items}
    # Built-in types and `Checkpoint`, declared in an imported file.
    assert {"Dataset", "Model", "Metrics", "Checkpoint", "String", "Int"} <= labels, labels


async def test_completion_of_resource_keys_and_fields(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8").replace("resources { memory = 32Gi }", "resources { memory = 32Gi, }")
    await open_document(client, main, text)
    items = await complete(client, main, pos(text, "32Gi, ", 6))
    labels = {i.label for i in items}
    assert {"cpu", "gpu", "accelerator"} <= labels and "memory" not in labels, labels
    items = await complete(client, main, pos(text, "        timeout", 8))
    labels = {i.label for i in items}
    assert {"retries", "timeout", "after", "resources", "env"} <= labels, labels


# --------------------------------------------------------------------------------------------------
# Hover


async def test_hover_on_a_component_shows_signature_and_doc(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    value = await hover_text(client, main, pos(text, "train_model(", 3))
    assert "component train_model {" in value
    assert "input  epochs: Int = 10" in value
    assert "output checkpoint: Checkpoint" in value
    assert "Trains a model and reports its accuracy." in value


async def test_hover_on_a_task_shows_outputs_and_effective_resources(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    value = await hover_text(client, main, pos(text, "trained = ", 2))
    assert "`trained.checkpoint`: Checkpoint" in value
    assert "`trained.accuracy`: Float" in value
    # cpu from the component, memory overridden by the task, retries from the component.
    assert "resources { cpu = 4, memory = 32Gi }" in value, value
    assert "retries = 1" in value and "timeout = 2h" in value


async def test_hover_on_inputs_outputs_and_types(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    value = await hover_text(client, main, pos(text, "epochs: epochs", 2))
    assert "input epochs: Int = 10" in value and "Passes over the data." in value
    value = await hover_text(client, main, pos(text, "trained.checkpoint)", 10))
    assert "output checkpoint: Checkpoint" in value
    value = await hover_text(client, main, pos(text, "input checkpoint: Checkpoint", 20))
    assert "artifact Checkpoint: Model" in value and "Checkpoint → Model → Artifact" in value
    value = await hover_text(client, main, pos(text, "output model", 8))
    assert "output model: Checkpoint" in value
    value = await hover_text(client, main, pos(text, "(url: String", 1))
    assert "url: String" in value and "parameter of pipeline `training`" in value


async def test_hover_after_non_ascii_text(client: LanguageClient, main: pathlib.Path):
    # Names after non-ASCII characters on the same line: the server must count UTF-16 units.
    text = main.read_text(encoding="utf-8").replace(
        "    raw     = download_csv(url: url)", '    /// é𝄞😀\n    raw = download_csv(url: "😀") display(x: "𝄞") '
    )
    text = text.replace("    raw     = download_csv(url: url)", "")
    text = text.replace('display(x: "𝄞") ', "")
    text = text.replace('download_csv(url: "😀")', 'download_csv(url: "😀𝄞é" == "x" or true and url == "é")')
    await open_document(client, main, text)
    at = pos(text, 'url == "é"')
    value = await hover_text(client, main, at)
    assert "url: String" in value
    result = await client.text_document_hover_async(types.HoverParams(text_document=doc(main), position=at))
    assert result.range == types.Range(start=at, end=pos(text, 'url == "é"', 3))


# --------------------------------------------------------------------------------------------------
# Navigation and rename


async def test_definition_across_files(client: LanguageClient, main: pathlib.Path, workspace: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    result = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc(main), position=pos(text, "clean_data(", 2))
    )
    location = result if isinstance(result, types.Location) else result[0]
    data = workspace / "components" / "data.kfl"
    assert path_of(location.uri) == data
    data_text = data.read_text(encoding="utf-8")
    assert location.range.start == pos(data_text, "clean_data")
    # An argument name goes to the input; a task output to the output; a type to its declaration.
    training = workspace / "components" / "training.kfl"
    for needle, offset, target_file, target in [
        ("raw_data: raw", 1, data, "input  raw_data"),
        ("raw.raw_data", 6, data, "output raw_data"),
        ("Checkpoint\n", 1, training, "artifact Checkpoint"),
        ("trained.accuracy", 2, main, "trained = "),
        ("trained.accuracy", 10, training, "output accuracy"),
        ("min_accuracy {", 1, main, "min_accuracy: Float"),
        ("components.training", 13, training, "/// Weights"),
    ]:
        result = await client.text_document_definition_async(
            types.DefinitionParams(text_document=doc(main), position=pos(text, needle, offset))
        )
        location = result if isinstance(result, types.Location) else result[0]
        assert path_of(location.uri) == target_file, needle
        target_text = target_file.read_text(encoding="utf-8")
        assert location.range.start.line == pos(target_text, target).line, (needle, location)


async def test_references_across_files(client: LanguageClient, main: pathlib.Path, workspace: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    training = workspace / "components" / "training.kfl"
    result = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc(main),
            position=pos(text, "trained.checkpoint)", 10),
            context=types.ReferenceContext(include_declaration=True),
        )
    )
    found = sorted((path_of(l.uri).name, l.range.start) for l in result)
    training_text = training.read_text(encoding="utf-8")
    # The output's declaration, its `.path` in the command, and two reads in main.kfl.
    assert found == sorted([
        ("main.kfl", pos(text, "trained.checkpoint)", 8)),
        ("main.kfl", pos(text, "trained.checkpoint\n", 8)),
        ("training.kfl", pos(training_text, "checkpoint:")),
        ("training.kfl", pos(training_text, "checkpoint.path")),
    ]), found
    without = await client.text_document_references_async(
        types.ReferenceParams(
            text_document=doc(main),
            position=pos(text, "trained.checkpoint)", 10),
            context=types.ReferenceContext(include_declaration=False),
        )
    )
    assert len(without) == 3
    highlights = await client.text_document_document_highlight_async(
        types.DocumentHighlightParams(text_document=doc(main), position=pos(text, "trained.acc", 2))
    )
    assert len(highlights) == 4  # the binding and three reads


async def test_rename_a_component_across_files(client: LanguageClient, main: pathlib.Path, workspace: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    at = pos(text, "train_model(", 2)
    prepared = await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(text_document=doc(main), position=at)
    )
    assert prepared is not None
    assert prepared.placeholder == "train_model"
    assert prepared.range.start == pos(text, "train_model(")
    result = await client.text_document_rename_async(
        types.RenameParams(text_document=doc(main), position=at, new_name="fit_model")
    )
    changes = {path_of(uri): edits for uri, edits in (result.changes or {}).items()}
    training = workspace / "components" / "training.kfl"
    assert set(changes) == {main, training}
    new_main = apply_edits(text, changes[main])
    new_training = apply_edits(training.read_text(encoding="utf-8"), changes[training])
    assert "fit_model(train_data" in new_main and "train_model" not in new_main
    assert "component fit_model {" in new_training


async def test_rename_inputs_outputs_and_tasks(client: LanguageClient, main: pathlib.Path, workspace: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    data = workspace / "components" / "data.kfl"
    data_text = data.read_text(encoding="utf-8")

    async def rename(at: types.Position, name: str) -> dict[pathlib.Path, str]:
        result = await client.text_document_rename_async(
            types.RenameParams(text_document=doc(main), position=at, new_name=name)
        )
        out = {}
        for uri, edits in (result.changes or {}).items():
            path = path_of(uri)
            source = text if path == main else path.read_text(encoding="utf-8")
            out[path] = apply_edits(source, edits)
        return out

    # An input: its declaration, the argument name, and its mentions in the script.
    renamed = await rename(pos(text, "raw_data: raw", 2), "source_data")
    assert "clean_data(source_data: raw.raw_data)" in renamed[main]
    assert "input  source_data: Dataset" in renamed[data].replace("input  source_data:  ", "input  source_data: ")
    assert "pd.read_csv(source_data.path)" in renamed[data]
    # An output of a component read in main.kfl.
    renamed = await rename(pos(text, "cleaned.rows", 9), "row_count")
    assert "output rows = cleaned.row_count" in renamed[main]
    assert "row_count = len(df)" in renamed[data]
    assert data_text.count("rows") - 2 == renamed[data].count("rows")
    # A task.
    renamed = await rename(pos(text, "trained.accuracy", 2), "fit")
    assert set(renamed) == {main}
    assert "fit = train_model(" in renamed[main] and "fit.accuracy >= min_accuracy" in renamed[main]
    assert "trained" not in renamed[main]
    # A pipeline parameter.
    renamed = await rename(pos(text, "min_accuracy {", 2), "threshold")
    assert "threshold: Float = 0.8" in renamed[main] and ">= threshold {" in renamed[main]
    # Invalid names are refused; built-in types cannot be renamed.
    with pytest.raises(Exception):
        await client.text_document_rename_async(
            types.RenameParams(text_document=doc(main), position=pos(text, "trained.accuracy", 2), new_name="for")
        )
    prepared = await client.text_document_prepare_rename_async(
        types.PrepareRenameParams(text_document=doc(main), position=pos(text, "url: String", 7))
    )
    assert prepared is None


async def test_rename_refuses_a_name_that_is_taken(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    refused = [
        (pos(text, "trained.accuracy", 2), "cleaned", "a task of `training`"),  # task → another task
        (pos(text, "trained.accuracy", 2), "epochs", "an input of `training`"),  # task → a parameter
        (pos(text, "min_accuracy {", 2), "raw", "a task of `training`"),  # parameter → a task
        (pos(text, "note:", 1), "checkpoint", "an input of `publish`"),  # input → another input
        (pos(text, "train_model(", 2), "publish", "a component, pipeline or artifact type"),  # across files
        (pos(text, "component publish", 12), "clean_data", "a component, pipeline or artifact type"),
    ]
    for at, new_name, why in refused:
        with pytest.raises(Exception, match=why.replace("`", ".")):
            await client.text_document_rename_async(
                types.RenameParams(text_document=doc(main), position=at, new_name=new_name)
            )
    # A free name is fine, and renaming to the same name changes nothing harmful.
    result = await client.text_document_rename_async(
        types.RenameParams(text_document=doc(main), position=pos(text, "trained.accuracy", 2), new_name="trained")
    )
    assert result is not None


# --------------------------------------------------------------------------------------------------
# Formatting, symbols, semantic tokens


async def test_formatting(client: LanguageClient, workspace: pathlib.Path):
    path = workspace / "messy.kfl"
    messy = 'component   x{\nimage="a:1"\n  sh "true" }\n'
    await open_document(client, path, messy)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=doc(path), options=types.FormattingOptions(tab_size=4, insert_spaces=True))
    )
    assert edits
    formatted = apply_edits(messy, edits)
    assert formatted == 'component x {\n    image = "a:1"\n    sh "true"\n}\n'
    # Formatting a formatted file changes nothing.
    await change_document(client, path, 2, [types.TextDocumentContentChangeWholeDocument(text=formatted)])
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=doc(path), options=types.FormattingOptions(tab_size=4, insert_spaces=True))
    )
    assert not edits
    # A file with a syntax error is left alone.
    await change_document(client, path, 3, [types.TextDocumentContentChangeWholeDocument(text="component {")])
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=doc(path), options=types.FormattingOptions(tab_size=4, insert_spaces=True))
    )
    assert not edits


async def test_document_and_workspace_symbols(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc(main)))
    names = [s.name for s in symbols]
    assert names == ["components/data.kfl", "components/training.kfl", "publish", "training"]
    training = symbols[3]
    assert training.kind == types.SymbolKind.Module
    children = [(c.name, c.detail) for c in training.children]
    assert ("raw", "task: download_csv") in children and ("epochs", "parameter: Int") in children
    assert ("publish", "task: publish") in children and ("model", "output") in children
    found = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query="tmod"))
    assert [(s.name, path_of(s.location.uri).name) for s in found] == [("train_model", "training.kfl")]
    everything = await client.workspace_symbol_async(types.WorkspaceSymbolParams(query=""))
    assert {s.name for s in everything} >= {"download_csv", "clean_data", "Checkpoint", "train_model", "publish", "training"}


def decode_tokens(text: str, data: list[int], legend: types.SemanticTokensLegend) -> list[tuple[str, str, list[str]]]:
    lines = text.split("\n")
    out = []
    line = col = 0
    for i in range(0, len(data), 5):
        dl, dc, length, ty, mods = data[i : i + 5]
        line += dl
        col = col + dc if dl == 0 else dc
        units = lines[line].encode("utf-16-le")
        word = units[2 * col : 2 * (col + length)].decode("utf-16-le")
        names = [m for b, m in enumerate(legend.token_modifiers) if mods & (1 << b)]
        out.append((word, legend.token_types[ty], names))
    return out


async def test_semantic_tokens(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    legend = client.init_result.capabilities.semantic_tokens_provider.legend  # type: ignore[attr-defined]
    result = await client.text_document_semantic_tokens_full_async(
        types.SemanticTokensParams(text_document=doc(main))
    )
    tokens = decode_tokens(text, list(result.data), legend)
    assert ("component", "keyword", []) in tokens
    assert ("publish", "function", ["declaration"]) in tokens
    assert ("train_model", "function", []) in tokens
    assert ("Checkpoint", "class", []) in tokens
    assert ("String", "type", ["defaultLibrary"]) in tokens
    assert ("trained", "variable", ["declaration"]) in tokens
    assert ("min_accuracy", "parameter", []) in tokens
    assert ("accuracy", "property", []) in tokens
    assert ("32Gi", "number", []) in tokens
    assert ("/// Publishes a checkpoint — «déployé» 🚀.", "comment", ["documentation"]) in tokens


# --------------------------------------------------------------------------------------------------
# Inlay hints, code actions, signature help, folding


async def test_inlay_hints(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=doc(main),
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=100, character=0)),
        )
    )
    by_label = {h.label: h.position for h in hints}
    assert by_label.get(": {checkpoint: Checkpoint, accuracy: Float}") == pos(text, "trained = ", 7)
    assert by_label.get(": {raw_data: Dataset}") == pos(text, "raw     =", 3)
    # Defaults the calls leave out, before their `)`.
    assert by_label.get(", min_value: 0.0") == pos(text, "raw.raw_data)", 12)
    assert by_label.get(", learning_rate: 0.001") == pos(text, "epochs: epochs)", 14)
    assert by_label.get(', note: "ok"') == pos(text, "trained.checkpoint)", 18)
    # Types of outputs written without one.
    assert by_label.get(": Checkpoint") == pos(text, "output model", 12)
    assert by_label.get(": Int") == pos(text, "output rows", 11)


async def test_code_action_applies_did_you_mean(client: LanguageClient, workspace: pathlib.Path):
    path = workspace / "typos.kfl"
    text = (
        "import components.training\n\n"
        "component bad {\n    image = \"a:1\"\n    retrys = 2\n    resources { memory = 4Gb }\n    sh \"true\"\n}\n\n"
        "pipeline p() {\n    t = train_modle(epochs: 1)\n}\n"
    )
    published = await open_document(client, path, text)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(path),
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=20, character=0)),
            context=types.CodeActionContext(diagnostics=list(published.diagnostics)),
        )
    )
    titles = sorted(a.title for a in actions)
    assert titles == ["change to `Gi`", "change to `retries`", "change to `train_model`"], titles
    fixed = text
    for action in sorted(actions, key=lambda a: a.title):
        assert action.kind == types.CodeActionKind.QuickFix
        assert action.diagnostics
        (edits,) = action.edit.changes.values()
        fixed = apply_edits(fixed, edits)
    assert "retries = 2" in fixed and "memory = 4Gi" in fixed and "train_model(epochs: 1)" in fixed


async def test_code_action_adds_missing_arguments(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8").replace(
        "    output model", "    again = train_model(epochs: 2)\n    clean_data()\n    output model"
    )
    published = await open_document(client, main, text)
    missing = [d for d in published.diagnostics if d.code == "E0109"]
    assert len(missing) == 2, published.diagnostics
    results = []
    for d in missing:
        actions = await client.text_document_code_action_async(
            types.CodeActionParams(text_document=doc(main), range=d.range, context=types.CodeActionContext(diagnostics=[d]))
        )
        (action,) = [a for a in actions if a.title.startswith("add the missing")]
        (edits,) = action.edit.changes.values()
        results.append(apply_edits(text, edits))
    # An artifact input takes an earlier task's output of a fitting type.
    assert "again = train_model(epochs: 2, train_data: cleaned.cleaned)" in results[0]
    assert "clean_data(raw_data: raw.raw_data)" in results[1]


async def test_signature_help(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8").replace("    output model", "    again = train_model(epochs: 2, \n    output model")
    await open_document(client, main, text)
    result = await client.text_document_signature_help_async(
        types.SignatureHelpParams(text_document=doc(main), position=pos(text, "epochs: 2, ", 11))
    )
    assert result is not None
    (signature,) = result.signatures
    assert signature.label.startswith(
        "train_model(train_data: Dataset, epochs: Int = 10, learning_rate: Float = 0.001)"
    ), signature.label
    assert signature.active_parameter == 0 or result.active_parameter == 0  # train_data: required, not passed
    start, end = signature.parameters[1].label
    assert signature.label[start:end] == "epochs: Int = 10"
    result = await client.text_document_signature_help_async(
        types.SignatureHelpParams(text_document=doc(main), position=pos(text, "epochs: 2", 8))
    )
    assert result.active_parameter == 1 or result.signatures[0].active_parameter == 1


async def test_folding_ranges(client: LanguageClient, main: pathlib.Path):
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    ranges = await client.text_document_folding_range_async(types.FoldingRangeParams(text_document=doc(main)))
    spans = {(r.start_line, r.end_line, r.kind) for r in ranges}
    component_start = pos(text, "component publish").line
    pipeline_start = pos(text, "pipeline training").line
    assert (0, 1, types.FoldingRangeKind.Imports) in spans or (0, 1, "imports") in spans, spans
    assert any(s == component_start and e >= component_start + 5 for s, e, _ in spans)
    assert any(s == pipeline_start and e >= pipeline_start + 10 for s, e, _ in spans)
    assert any(s == pos(text, "trained = ").line for s, _, _ in spans)  # the override block


async def test_completion_in_an_item_that_does_not_parse(client: LanguageClient, main: pathlib.Path):
    # The pipeline is half typed: the file's own component `publish` is read from tokens.
    text = main.read_text(encoding="utf-8").replace("    output model", "    p = publish(\n    output model")
    published = await open_document(client, main, text)
    assert "E0001" in [d.code for d in published.diagnostics]
    items = await complete(client, main, pos(text, "publish(\n", 8))
    details = {i.label: i.detail for i in items}
    assert details == {"checkpoint": "Checkpoint (required)", "note": 'String = "ok"'}, details
    items = await complete(client, main, pos(text, "    p = ", 8))
    labels = {i.label for i in items}
    assert {"publish", "train_model", "clean_data", "download_csv"} <= labels, labels
    help_ = await client.text_document_signature_help_async(
        types.SignatureHelpParams(text_document=doc(main), position=pos(text, "publish(\n", 8))
    )
    assert help_.signatures[0].label == 'publish(checkpoint: Checkpoint, note: String = "ok")'
