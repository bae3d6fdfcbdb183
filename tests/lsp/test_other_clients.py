"""The server under the capabilities other editors send (recorded by pytest-lsp): Neovim 0.7 and
Emacs 29. pytest-lsp checks every result against what the client says it supports (no snippets,
no Markdown where it has none); without related information the help goes into the message."""

from __future__ import annotations

import pathlib

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities

from conftest import CONFIG, open_document, pos, uri_of


@pytest_lsp.fixture(config=CONFIG, params=["neovim@v0.7.0", "emacs@v29.1"])
async def other_client(lsp_client: LanguageClient, workspace: pathlib.Path, request):
    params = types.InitializeParams(
        capabilities=client_capabilities(request.param),
        root_uri=workspace.as_uri(),
    )
    lsp_client.init_result = await lsp_client.initialize_session(params)  # type: ignore[attr-defined]
    lsp_client.spec = request.param  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


async def test_features_within_the_clients_capabilities(other_client: LanguageClient, workspace: pathlib.Path):
    client = other_client
    main = workspace / "main.kfl"
    text = main.read_text(encoding="utf-8").replace(
        "    output model", "    again = train_model(epochs: 1, )\n    output model"
    )
    published = await open_document(client, main, text)
    missing = next(d for d in published.diagnostics if d.code == "E0109")
    if client.spec.startswith("emacs"):  # type: ignore[attr-defined]
        # No related information: the help is part of the message.
        assert missing.message == "`train_model` needs `train_data`\nhelp: pass `train_data: Dataset`"
        assert not any(r.message.startswith("help:") for r in missing.related_information or [])
    else:
        assert missing.message == "`train_model` needs `train_data`"
    where = types.TextDocumentIdentifier(uri=uri_of(main))
    # Completion: statement starts (with documentation) and named arguments.
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=where, position=pos(text, "epochs: 1, ", 11))
    )
    items = result.items if isinstance(result, types.CompletionList) else result
    assert {i.label for i in items} == {"train_data", "learning_rate"}
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=where, position=pos(text, "    again", 4))
    )
    items = result.items if isinstance(result, types.CompletionList) else result
    assert "train_model" in {i.label for i in items}
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=where, position=pos(text, "train_model(t", 2))
    )
    assert hover is not None and "component train_model" in hover.contents.value
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=where))
    assert [s.name for s in symbols][-2:] == ["publish", "training"]
    signature = await client.text_document_signature_help_async(
        types.SignatureHelpParams(text_document=where, position=pos(text, "epochs: 1, ", 11))
    )
    assert signature is not None and signature.signatures[0].label.startswith("train_model(")


async def test_env_secret_completion_is_plain_text_without_snippets(other_client: LanguageClient, workspace: pathlib.Path):
    client = other_client
    path = workspace / "env.kfl"
    text = 'component c {\n    image = "a:1"\n    env { TOKEN = }\n    sh "echo $TOKEN"\n}\n'
    await open_document(client, path, text)
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=types.TextDocumentIdentifier(uri=uri_of(path)), position=pos(text, "= }", 2))
    )
    items = result.items if isinstance(result, types.CompletionList) else result
    (secret,) = items
    assert secret.label == "secret"
    assert secret.insert_text_format in (None, types.InsertTextFormat.PlainText)
