"""No input and no order of requests crashes or hangs the server: contained panics, cancelled stale
requests, unknown documents, positions out of range, random edits with requests in between, and
malformed JSON-RPC on the raw stream."""

from __future__ import annotations

import asyncio
import json
import pathlib
import random

import pytest
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInternalError
from pytest_lsp import LanguageClient

from conftest import CONFIG, SERVER_ENV, apply_edits, edit, open_document, uri_of, wait_for_diagnostics


def is_content_modified(error: BaseException) -> bool:
    return isinstance(error, JsonRpcException) and error.code == -32801


def doc_id(path: pathlib.Path) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri_of(path))


async def test_a_panic_in_a_request_is_contained(client: LanguageClient, workspace: pathlib.Path):
    main = workspace / "main.kfl"
    text = main.read_text(encoding="utf-8")
    await open_document(client, main, text)
    with pytest.raises(JsonRpcInternalError) as caught:
        await client.protocol.send_request_async("kfl/testHook", {"panic": True})
    assert "test hook: a panic inside a request" in str(caught.value)
    # The server goes on answering.
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc_id(main), position=types.Position(line=16, character=6))
    )
    assert hover is not None


async def test_a_stale_request_is_cancelled_by_an_edit(client: LanguageClient, workspace: pathlib.Path):
    path = workspace / "stale.kfl"
    await open_document(client, path, "artifact A\n")
    slow = asyncio.ensure_future(client.protocol.send_request_async("kfl/testHook", {"spinMs": 8000}))
    await asyncio.sleep(0.3)
    started = asyncio.get_running_loop().time()
    since = len(client.published)
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri_of(path), version=2),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="artifact B\n")],
        )
    )
    with pytest.raises(JsonRpcException) as caught:
        await asyncio.wait_for(slow, 5)
    assert is_content_modified(caught.value), caught.value
    # The edit was not held up by the slow request.
    await wait_for_diagnostics(client, uri_of(path), 2, since)
    assert asyncio.get_running_loop().time() - started < 3


async def test_unknown_documents_and_positions_out_of_range(client: LanguageClient, workspace: pathlib.Path):
    unknown = doc_id(workspace / "never-opened-ü.kfl")
    far = types.Position(line=1_000_000, character=1_000_000)
    assert await client.text_document_hover_async(types.HoverParams(text_document=unknown, position=far)) is None
    main = workspace / "main.kfl"
    await open_document(client, main)
    where = doc_id(main)
    for position in [far, types.Position(line=0, character=1_000_000), types.Position(line=3, character=7)]:
        await client.text_document_hover_async(types.HoverParams(text_document=where, position=position))
        await client.text_document_completion_async(types.CompletionParams(text_document=where, position=position))
        await client.text_document_definition_async(types.DefinitionParams(text_document=where, position=position))
        await client.text_document_signature_help_async(types.SignatureHelpParams(text_document=where, position=position))
        await client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=where, position=position))
    backwards = types.Range(start=far, end=types.Position(line=0, character=0))
    await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=where, range=backwards))
    await client.text_document_code_action_async(
        types.CodeActionParams(text_document=where, range=backwards, context=types.CodeActionContext(diagnostics=[]))
    )
    # A change to a document that is not open is ignored.
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=unknown.uri, version=3),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text="x")],
        )
    )
    assert await client.text_document_hover_async(types.HoverParams(text_document=where, position=far)) is None


ALPHABET = [
    "component", "pipeline", "artifact", "import", "input", "output", "if", "for", "in", "else", "finally",
    "train_model", "clean_data", "x", "y", ".", ":", "=", ",", "(", ")", "{", "}", "[", "]", "<", ">", "==",
    '"', '"""', "//", "///", "4Gi", "500m", "1h30m", "-1.5e3", "é", "𝄞", "😀", "\n", " ", "    ", "\t", "\r\n",
    "resources", "memory", "cpu", "after", "secret", "python", "sh", "Dataset", "List<", "not", "and",
]


def random_text(rng: random.Random, n: int) -> str:
    return "".join(rng.choice(ALPHABET) + (" " if rng.random() < 0.5 else "") for _ in range(n))


def random_position(rng: random.Random, text: str) -> types.Position:
    lines = text.split("\n")
    line = rng.randrange(len(lines) + 2)
    width = len(lines[line].encode("utf-16-le")) // 2 if line < len(lines) else 0
    return types.Position(line=line, character=rng.randrange(width + 3))


async def test_random_edits_and_requests(client: LanguageClient, workspace: pathlib.Path):
    """Random edits (non-ASCII, ranges past the end, reversed ranges, positions inside surrogate pairs)
    with every request in between; the server's text must stay the one the edits describe."""
    rng = random.Random(20240611)
    path = workspace / "fuzz.kfl"
    text = (workspace / "main.kfl").read_text(encoding="utf-8")
    await open_document(client, path, text)
    where = doc_id(path)
    version = 1
    for _ in range(60):
        version += 1
        changes = []
        for _ in range(rng.randrange(1, 4)):
            a, b = random_position(rng, text), random_position(rng, text)
            new = random_text(rng, rng.randrange(0, 6))
            changes.append(edit(a, b, new))
            text = apply_edits(text, [types.TextEdit(range=types.Range(start=min_pos(a, b), end=max_pos(a, b)), new_text=new)])
        client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                text_document=types.VersionedTextDocumentIdentifier(uri=uri_of(path), version=version),
                content_changes=changes,
            )
        )
        at = random_position(rng, text)
        requests = [
            client.text_document_hover_async(types.HoverParams(text_document=where, position=at)),
            client.text_document_completion_async(types.CompletionParams(text_document=where, position=at)),
            client.text_document_signature_help_async(types.SignatureHelpParams(text_document=where, position=at)),
            client.text_document_definition_async(types.DefinitionParams(text_document=where, position=at)),
            client.text_document_references_async(
                types.ReferenceParams(text_document=where, position=at, context=types.ReferenceContext(include_declaration=True))
            ),
            client.text_document_document_highlight_async(types.DocumentHighlightParams(text_document=where, position=at)),
            client.text_document_semantic_tokens_full_async(types.SemanticTokensParams(text_document=where)),
            client.text_document_folding_range_async(types.FoldingRangeParams(text_document=where)),
            client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=where)),
            client.text_document_inlay_hint_async(
                types.InlayHintParams(text_document=where, range=types.Range(start=types.Position(line=0, character=0), end=at))
            ),
            client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=where,
                    range=types.Range(start=types.Position(line=0, character=0), end=at),
                    context=types.CodeActionContext(diagnostics=[]),
                )
            ),
            client.text_document_formatting_async(
                types.DocumentFormattingParams(text_document=where, options=types.FormattingOptions(tab_size=4, insert_spaces=True))
            ),
            client.text_document_prepare_rename_async(types.PrepareRenameParams(text_document=where, position=at)),
        ]
        results = await asyncio.gather(*requests, return_exceptions=True)
        for result in results:
            # A request may be overtaken by the next edit (ContentModified); nothing else may fail.
            if isinstance(result, Exception):
                assert is_content_modified(result), repr(result)
    # The server's text is the one the edits describe: a fresh document with that text has the same
    # diagnostics.
    final = await wait_for_diagnostics(client, uri_of(path), version)
    twin = await open_document(client, workspace / "fuzz-twin.kfl", text)
    assert [(d.code, d.message, d.range) for d in final.diagnostics] == [
        (d.code, d.message, d.range) for d in twin.diagnostics
    ]


def min_pos(a: types.Position, b: types.Position) -> types.Position:
    return a if (a.line, a.character) <= (b.line, b.character) else b


def max_pos(a: types.Position, b: types.Position) -> types.Position:
    return b if (a.line, a.character) <= (b.line, b.character) else a


# --------------------------------------------------------------------------------------------------
# The raw stream: malformed messages, requests before `initialize`, unknown methods, bad params.


class Raw:
    def __init__(self, process: asyncio.subprocess.Process):
        self.process = process

    async def send_bytes(self, body: bytes):
        assert self.process.stdin
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        await self.process.stdin.drain()

    async def send(self, message: dict):
        await self.send_bytes(json.dumps(message).encode())

    async def receive(self) -> dict:
        assert self.process.stdout
        length = 0
        while True:
            line = await asyncio.wait_for(self.process.stdout.readline(), 10)
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        return json.loads(await self.process.stdout.readexactly(length))

    async def next_response(self) -> dict:
        while True:
            message = await self.receive()
            if "method" not in message:
                return message

    async def response(self, id_: int) -> dict:
        while True:
            message = await self.receive()
            if message.get("id") == id_ and "method" not in message:
                return message


async def test_malformed_messages_on_the_raw_stream(tmp_path: pathlib.Path):
    process = await asyncio.create_subprocess_exec(
        *CONFIG.server_command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
        env=SERVER_ENV,
    )
    raw = Raw(process)
    try:
        # Before `initialize`: an error, not a crash.
        await raw.send({"jsonrpc": "2.0", "id": 1, "method": "textDocument/hover", "params": {}})
        assert (await raw.response(1))["error"]["code"] == -32002
        await raw.send({"jsonrpc": "2.0", "id": 2, "method": "initialize", "params": {"capabilities": {}}})
        assert "capabilities" in (await raw.response(2))["result"]
        await raw.send({"jsonrpc": "2.0", "method": "initialized", "params": {}})
        # Not JSON; JSON that is not a message; framing garbage; a message with the wrong shapes.
        await raw.send_bytes(b"{this is not json")
        assert (await raw.next_response())["error"]["code"] == -32700
        await raw.send_bytes(b"[1, 2, 3]")
        assert (await raw.next_response())["error"]["code"] == -32600
        assert raw.process.stdin
        raw.process.stdin.write(b"X-Nonsense: yes\r\n\r\n")
        await raw.send({"id": 9, "what": "no method"})
        assert (await raw.next_response()) == {"jsonrpc": "2.0", "error": {"code": -32600, "message": "Invalid request"}, "id": 9}
        await raw.send({"jsonrpc": "2.0", "id": 3, "method": "textDocument/hover", "params": {"textDocument": 5}})
        assert (await raw.response(3))["error"]["code"] == -32602
        await raw.send({"jsonrpc": "2.0", "id": 4, "method": "kfl/noSuchMethod", "params": {}})
        assert (await raw.response(4))["error"]["code"] == -32601
        uri = (tmp_path / "raw.kfl").as_uri()
        await raw.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didOpen",
                "params": {"textDocument": {"uri": uri, "languageId": "kfl", "version": 1, "text": "component c {"}},
            }
        )
        # A change with a range in the middle of a surrogate pair and a negative-looking version.
        await raw.send(
            {
                "jsonrpc": "2.0",
                "method": "textDocument/didChange",
                "params": {
                    "textDocument": {"uri": uri, "version": -1},
                    "contentChanges": [
                        {"range": {"start": {"line": 0, "character": 99}, "end": {"line": 0, "character": 2}}, "text": "😀"},
                        {"range": {"start": {"line": 0, "character": 3}, "end": {"line": 0, "character": 4}}, "text": ""},
                    ],
                },
            }
        )
        await raw.send(
            {
                "jsonrpc": "2.0",
                "id": 5,
                "method": "textDocument/hover",
                "params": {"textDocument": {"uri": uri}, "position": {"line": 0, "character": 3}},
            }
        )
        assert "error" not in await raw.response(5)
        await raw.send({"jsonrpc": "2.0", "id": 6, "method": "shutdown"})
        assert (await raw.response(6)).get("result") is None
        await raw.send({"jsonrpc": "2.0", "method": "exit"})
        assert await asyncio.wait_for(process.wait(), 10) == 0
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
