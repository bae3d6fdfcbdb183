"""Shared setup of the language server's end-to-end tests (pytest-lsp).

The server command is `$KFL_LSP_CMD` if set, else `target/debug/kflc lsp` when `kflc` has an `lsp`
subcommand, else `target/debug/kfl-lsp`. Each test gets a fresh server on a copy of `workspace/`
(a three-file project with non-ASCII text), initialized with the client capabilities VS Code sends
(recorded by pytest-lsp) unless the test module sets `CLIENT` to another recorded client.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import shlex
import shutil
import subprocess

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.protocol import default_converter
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from pytest_lsp.client import DEFAULT_CLIENT_FEATURES, register_lsp_features

HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent.parent
WORKSPACE = HERE / "workspace"


def server_command() -> list[str]:
    if os.environ.get("KFL_LSP_CMD"):
        return shlex.split(os.environ["KFL_LSP_CMD"])
    kflc = ROOT / "target" / "debug" / "kflc"
    if kflc.exists():
        help_text = subprocess.run([str(kflc), "--help"], capture_output=True, text=True).stdout
        if any(line.strip().startswith("lsp") for line in help_text.splitlines()):
            return [str(kflc), "lsp"]
    return [str(ROOT / "target" / "debug" / "kfl-lsp")]


SERVER_ENV = {**os.environ, "KFL_LSP_TEST_HOOKS": "1", "RUST_BACKTRACE": "0"}


def make_client() -> LanguageClient:
    """pytest-lsp's client, also keeping every publishDiagnostics (with its version) in order."""
    client = LanguageClient(converter_factory=default_converter)
    client.published = []  # type: ignore[attr-defined]

    def on_diagnostics(client: LanguageClient, params: types.PublishDiagnosticsParams):
        client.diagnostics[params.uri] = params.diagnostics
        client.published.append(params)  # type: ignore[attr-defined]

    features = dict(DEFAULT_CLIENT_FEATURES)
    features[types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS] = on_diagnostics
    register_lsp_features(client, features)
    return client


CONFIG = ClientServerConfig(server_command=server_command(), server_env=SERVER_ENV, client_factory=make_client)


@pytest.fixture
def workspace(tmp_path: pathlib.Path) -> pathlib.Path:
    # A folder with non-ASCII in its name: URIs are percent-encoded, paths are not.
    root = tmp_path / "projét"
    shutil.copytree(WORKSPACE, root)
    return root


@pytest_lsp.fixture(config=CONFIG)
async def client(lsp_client: LanguageClient, workspace: pathlib.Path, request):
    spec = getattr(request.module, "CLIENT", "visual-studio-code")
    params = types.InitializeParams(
        capabilities=client_capabilities(spec),
        root_uri=workspace.as_uri(),
        workspace_folders=[types.WorkspaceFolder(uri=workspace.as_uri(), name="projét")],
    )
    lsp_client.init_result = await lsp_client.initialize_session(params)  # type: ignore[attr-defined]
    lsp_client.workspace_root = workspace  # type: ignore[attr-defined]
    yield
    await lsp_client.shutdown_session()


# --------------------------------------------------------------------------------------------------
# Helpers


def uri_of(path: pathlib.Path) -> str:
    return path.as_uri()


def pos(text: str, needle: str, offset: int = 0, nth: int = 0) -> types.Position:
    """The LSP position (UTF-16 columns) of the `nth` occurrence of `needle` in `text`, plus `offset`
    characters."""
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    index += offset
    line = text.count("\n", 0, index)
    line_start = text.rfind("\n", 0, index) + 1
    column = len(text[line_start:index].encode("utf-16-le")) // 2
    return types.Position(line=line, character=column)


def end_of(text: str) -> types.Position:
    return pos(text + "\0", "\0")


async def wait_for_diagnostics(
    client: LanguageClient, uri: str, version: int | None = None, since: int = 0, timeout: float = 10.0
) -> types.PublishDiagnosticsParams:
    """The first publishDiagnostics for `uri` (with `version`, if given) at or after index `since`."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        for params in client.published[since:]:  # type: ignore[attr-defined]
            if params.uri == uri and (version is None or params.version == version):
                return params
        if asyncio.get_running_loop().time() > deadline:
            seen = [(p.uri, p.version) for p in client.published]  # type: ignore[attr-defined]
            raise AssertionError(f"no diagnostics for {uri} version {version}; got {seen}")
        await asyncio.sleep(0.01)


async def open_document(
    client: LanguageClient, path: pathlib.Path, text: str | None = None, version: int = 1
) -> types.PublishDiagnosticsParams:
    """Opens a document (its disk text unless `text` is given) and waits for its diagnostics."""
    if text is None:
        text = path.read_text(encoding="utf-8")
    since = len(client.published)  # type: ignore[attr-defined]
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri_of(path), language_id="kfl", version=version, text=text)
        )
    )
    return await wait_for_diagnostics(client, uri_of(path), version, since)


async def change_document(
    client: LanguageClient,
    path: pathlib.Path,
    version: int,
    changes: list[types.TextDocumentContentChangeEvent],
) -> types.PublishDiagnosticsParams:
    since = len(client.published)  # type: ignore[attr-defined]
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri_of(path), version=version),
            content_changes=changes,
        )
    )
    return await wait_for_diagnostics(client, uri_of(path), version, since)


def edit(start: types.Position, end: types.Position, text: str) -> types.TextDocumentContentChangeEvent:
    return types.TextDocumentContentChangePartial(range=types.Range(start=start, end=end), text=text)


def apply_edits(text: str, edits: list[types.TextEdit]) -> str:
    """Applies LSP text edits (UTF-16 ranges) to a text, last first."""

    def offset(p: types.Position) -> int:
        lines = text.split("\n")
        before = sum(len(line) + 1 for line in lines[: p.line])
        line = lines[p.line] if p.line < len(lines) else ""
        units = 0
        for i, ch in enumerate(line):
            if units >= p.character:
                return before + i
            units += len(ch.encode("utf-16-le")) // 2
        return before + len(line)

    spans = sorted(((offset(e.range.start), offset(e.range.end), e.new_text) for e in edits), reverse=True)
    for start, end, new in spans:
        text = text[:start] + new + text[end:]
    return text
