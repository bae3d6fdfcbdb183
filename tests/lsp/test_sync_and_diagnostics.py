"""Text sync and diagnostics: incremental UTF-16 edits, the CLI's codes and messages, related
information, files read from disk, versions and closing."""

from __future__ import annotations

import json
import pathlib
import subprocess

from lsprotocol import types
from pytest_lsp import LanguageClient

from conftest import (
    ROOT,
    change_document,
    edit,
    end_of,
    open_document,
    pos,
    uri_of,
    wait_for_diagnostics,
)


async def test_capabilities(client: LanguageClient):
    caps = client.init_result.capabilities  # type: ignore[attr-defined]
    assert caps is not None
    sync = caps.text_document_sync
    assert isinstance(sync, types.TextDocumentSyncOptions)
    assert sync.change == types.TextDocumentSyncKind.Incremental
    assert caps.position_encoding in (None, types.PositionEncodingKind.Utf16)
    for name in [
        "completion_provider",
        "hover_provider",
        "definition_provider",
        "references_provider",
        "rename_provider",
        "document_formatting_provider",
        "document_symbol_provider",
        "workspace_symbol_provider",
        "semantic_tokens_provider",
        "inlay_hint_provider",
        "code_action_provider",
        "signature_help_provider",
        "folding_range_provider",
    ]:
        assert getattr(caps, name), name
    assert caps.rename_provider.prepare_provider is True


async def test_clean_workspace_has_no_diagnostics(client: LanguageClient, workspace: pathlib.Path):
    # main.kfl imports two files that are not open: they are read from disk.
    published = await open_document(client, workspace / "main.kfl")
    assert published.diagnostics == ()


def cli_diagnostics(path: pathlib.Path) -> list[dict] | None:
    kflc = ROOT / "target" / "debug" / "kflc"
    if not kflc.exists():
        return None
    out = subprocess.run([str(kflc), "check", "--format", "json", str(path)], capture_output=True, text=True)
    return json.loads(out.stdout)


BROKEN = """import components.training

/// Trains — «vite» 🚀
pipeline quick(epochs: Int = 3) {
    trained = train_model(epochs: epochs)
    other = train_modle(train_data: trained.checkpoint)
    output accuracy = trained.acuracy
}

component bad {
    image = "python:3.11-slim"
    retry = 2
    resources { memory = 4Gb }
    python "print(1)"
}
"""


async def test_diagnostics_match_the_cli(client: LanguageClient, workspace: pathlib.Path):
    path = workspace / "broken.kfl"
    path.write_text(BROKEN, encoding="utf-8")
    published = await open_document(client, path)
    got = [(d.code, d.message, d.range.start.line) for d in published.diagnostics]
    assert {"E0109", "E0101", "E0103", "E0111", "E0401"} <= {code for code, _, _ in got}, got
    for d in published.diagnostics:
        assert d.source == "kfl"
        assert d.severity in (types.DiagnosticSeverity.Error, types.DiagnosticSeverity.Warning)
    cli = cli_diagnostics(path)
    if cli is not None:
        expected = [(d["code"], d["message"], d["start"]["line"] - 1) for d in cli]
        assert got == expected


async def test_related_information_and_help(client: LanguageClient, workspace: pathlib.Path):
    path = workspace / "broken.kfl"
    path.write_text(BROKEN, encoding="utf-8")
    published = await open_document(client, path)
    by_code = {d.code: d for d in published.diagnostics}
    # E0109 has a secondary label in another file (where `train_model` is declared) and help.
    missing = by_code["E0109"]
    related = missing.related_information or []
    messages = [r.message for r in related]
    assert any("declared here" in m for m in messages), messages
    declared = next(r for r in related if "declared here" in r.message)
    assert declared.location.uri == uri_of(workspace / "components" / "training.kfl")
    assert declared.location.range.start.line == 4
    assert any(m.startswith("help: pass `train_data: Dataset`") for m in messages), messages
    # The message stays the CLI's when the help goes to related information.
    assert missing.message == "`train_model` needs `train_data`"
    typo = by_code["E0101"]
    assert any(r.message == "help: did you mean `train_model`?" for r in typo.related_information or [])


async def test_incremental_edits_in_utf16(client: LanguageClient, workspace: pathlib.Path):
    path = workspace / "edit.kfl"
    # `é` is one UTF-16 unit (two bytes); `𝄞` is two units (four bytes).
    text = 'component c {\n    description = "é𝄞" image = "img:1.0" // é𝄞 x\n    sh "echo"\n}\n'
    published = await open_document(client, path, text)
    assert published.diagnostics == ()
    # Insert a misspelt field after the non-ASCII comment, on the same line: its range must count
    # UTF-16 units.
    at = pos(text, "x\n")
    published = await change_document(client, path, 2, [edit(at, pos(text, "x\n", 1), "x\n    retry = 1")])
    codes = [(d.code, d.range) for d in published.diagnostics]
    assert [c for c, _ in codes] == ["E0111"], codes
    new_text = text.replace("x\n", "x\n    retry = 1\n", 1)
    assert codes[0][1].start == pos(new_text, "retry")
    # A diagnostic after non-ASCII text on its line: replace the image by a bad one.
    start, end = pos(new_text, '"img'), pos(new_text, '1.0"', 4)
    published = await change_document(client, path, 3, [edit(start, end, '"UPPER:😀"')])
    text3 = new_text.replace('"img:1.0"', '"UPPER:😀"', 1)
    image = [d for d in published.diagnostics if d.code == "E0504"]
    assert image, published.diagnostics
    assert image[0].range.start == pos(text3, '"UPPER')
    assert image[0].range.end == pos(text3, '😀"', 2)
    # Several changes in one notification apply in order; together they fix everything.
    changes = [
        edit(pos(text3, "retry"), pos(text3, "retry", 5), "retries"),
        edit(pos(text3, '"UPPER:😀"'), pos(text3, '😀"', 2), '"img:1.0"'),
    ]
    published = await change_document(client, path, 4, changes)
    assert published.diagnostics == (), published.diagnostics
    # A full replacement (no range) also works.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri_of(path), version=5),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="component {")],
        )
    )
    published = await wait_for_diagnostics(client, uri_of(path), 5)
    assert [d.code for d in published.diagnostics] == ["E0001"]


async def test_edits_in_one_file_update_files_that_import_it(client: LanguageClient, workspace: pathlib.Path):
    main = workspace / "main.kfl"
    training = workspace / "components" / "training.kfl"
    await open_document(client, main)
    text = training.read_text(encoding="utf-8")
    await open_document(client, training)
    since = len(client.published)
    # Rename the input `epochs` in the component: main.kfl's call now passes an unknown argument.
    start = pos(text, "epochs:")
    await change_document(client, training, 2, [edit(start, pos(text, "epochs:", 6), "passes")])
    published = await wait_for_diagnostics(client, uri_of(main), since=since)
    assert "E0104" in [d.code for d in published.diagnostics]


async def test_close_clears_diagnostics(client: LanguageClient, workspace: pathlib.Path):
    path = workspace / "closing.kfl"
    published = await open_document(client, path, "pipeline p() { x() }\n")
    assert published.diagnostics
    since = len(client.published)
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri_of(path))))
    cleared = await wait_for_diagnostics(client, uri_of(path), since=since)
    assert cleared.diagnostics == ()


async def test_unsaved_text_wins_over_disk(client: LanguageClient, workspace: pathlib.Path):
    # The editor's text of data.kfl declares a component the disk does not have yet; main sees it.
    data = workspace / "components" / "data.kfl"
    text = data.read_text(encoding="utf-8") + "\ncomponent fresh {\n    image = \"a:1\"\n    sh \"true\"\n}\n"
    await open_document(client, data, text)
    main = workspace / "main.kfl"
    main_text = main.read_text(encoding="utf-8").replace("    output model", "    fresh()\n    output model")
    published = await open_document(client, main, main_text)
    assert published.diagnostics == (), published.diagnostics


async def test_version_is_reported(client: LanguageClient, workspace: pathlib.Path):
    path = workspace / "v.kfl"
    published = await open_document(client, path, "", version=7)
    assert published.version == 7
    published = await change_document(client, path, 8, [edit(end_of(""), end_of(""), "artifact A")])
    assert published.version == 8
    assert published.diagnostics == ()


async def test_a_statement_being_typed_hides_nothing_else(client: LanguageClient, workspace: pathlib.Path):
    """While one statement of a pipeline does not parse, the rest of the pipeline is still checked,
    hovered and completed: only that statement is left out."""
    main = workspace / "main.kfl"
    text = main.read_text(encoding="utf-8")
    published = await open_document(client, main, text)
    assert published.diagnostics == ()
    # Start typing a new task above `trained`, and break an argument type below it.
    at = pos(text, "    trained = ")
    typing = "    partial = clean_data(raw_data: )\n"
    bad = pos(text, "epochs: epochs)")
    changes = [
        edit(bad, pos(text, "epochs: epochs)", len("epochs: epochs")), 'epochs: "five"'),
        edit(at, at, typing),
    ]
    published = await change_document(client, main, 2, changes)
    codes = sorted(d.code for d in published.diagnostics)
    # The syntax error of the line being typed, and the type error in another statement; nothing
    # about names the broken line might have declared, or about imports it might have used.
    assert codes == ["E0001", "E0201"], published.diagnostics
    new_text = text.replace("epochs: epochs)", 'epochs: "five")', 1).replace("    trained = ", typing + "    trained = ", 1)
    # Hover and completion still work in the same pipeline.
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=types.TextDocumentIdentifier(uri=uri_of(main)), position=pos(new_text, "cleaned.rows", 9))
    )
    assert hover is not None and "rows" in str(hover.contents), hover
    completion = await client.text_document_completion_async(
        types.CompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri_of(main)), position=pos(new_text, "trained.accuracy", 8)
        )
    )
    labels = [item.label for item in (completion.items if hasattr(completion, "items") else completion or [])]
    assert "accuracy" in labels and "checkpoint" in labels, labels
