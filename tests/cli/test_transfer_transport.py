"""The streaming transports: bodies go from a file and come back a chunk at a time, embedded and
over HTTP, never held whole (a WSGI app of the test's own stands in for the data route)."""

from __future__ import annotations

import hashlib
import os
import threading
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest

from atonix_cli.client import ApiClient
from atonix_cli.errors import ApiFailure
from atonix_cli.local import FileWrapper, open_wsgi
from atonix_cli.remote import HttpTransport

SIZE = 48 << 20  # big enough that holding it whole would show in the peak


class Store:
    """A WSGI app: PUT streams the body to a file, GET streams it back (as a file, or chunks)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.largest_read = 0
        self.paths: list[str] = []
        self.unavailable = 0  # GETs to answer 503 before serving

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        method, path = environ["REQUEST_METHOD"], environ["PATH_INFO"]
        self.paths.append(path)
        target = self.root / "blob"
        if method == "GET" and self.unavailable:
            self.unavailable -= 1
            body = b'{"error": "busy", "code": "SERVICE_UNAVAILABLE"}'
            start_response("503 Service Unavailable", [*_json(body), ("Retry-After", "0")])
            return [body]
        if method == "PUT" and path.endswith("/refuse"):
            body = b'{"error": "too big", "code": "TOO_LARGE"}'
            start_response("413 Payload Too Large", _json(body))
            return [body]  # without reading the body, as a server refusing early does
        if method == "PUT":
            left = int(environ.get("CONTENT_LENGTH") or 0)
            digest = hashlib.sha256()
            with target.open("wb") as out:
                while left:
                    chunk = environ["wsgi.input"].read(min(left, 1 << 20))
                    if not chunk:
                        break
                    self.largest_read = max(self.largest_read, len(chunk))
                    digest.update(chunk)
                    out.write(chunk)
                    left -= len(chunk)
            ok = digest.hexdigest() == environ.get("HTTP_X_ATONIX_CHECKSUM_SHA256")
            body = b'{"stored": true}' if ok else b'{"error": "bad sum", "code": "BAD_DIGEST"}'
            start_response("201 Created" if ok else "400 Bad Request", _json(body))
            return [body]
        if not target.exists():
            body = b'{"error": "no such object", "code": "NOT_FOUND"}'
            start_response("404 Not Found", _json(body))
            return [body] if method != "HEAD" else []
        size = target.stat().st_size
        headers = [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))]
        if "sum=" in environ.get("QUERY_STRING", ""):
            headers.append(("x-atonix-checksum-sha256", environ["QUERY_STRING"].split("sum=")[1]))
        start_response("200 OK", headers)
        if method == "HEAD":
            return []
        handle = target.open("rb")
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None:
            return wrapper(handle, 1 << 20)
        return _chunks(handle)


def _chunks(handle: Any) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(1 << 20):
            yield chunk


def _json(body: bytes) -> list[tuple[str, str]]:
    return [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.bin"
    with path.open("wb") as out:
        for _ in range(SIZE >> 20):
            out.write(os.urandom(1 << 20))
    return path


@pytest.fixture(params=("embedded", "remote"))
def client(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ApiClient, Store]]:
    store_dir = tmp_path / "store"
    store_dir.mkdir()
    store = Store(store_dir)
    if request.param == "embedded":

        class Embedded:
            def open(self, method: str, path: str, **kw: Any) -> Any:
                return open_wsgi(store, method, path, **kw)

            def close(self) -> None:
                pass

        transport: Any = Embedded()
        yield ApiClient(transport, authorization=None), store
        return
    server: WSGIServer = make_server("127.0.0.1", 0, store, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    remote = HttpTransport(f"http://127.0.0.1:{server.server_port}", timeout=30)
    try:
        yield ApiClient(remote, authorization=None), store
    finally:
        remote.close()
        server.shutdown()
        server.server_close()


def _sha256(path: Path) -> str:
    return hashlib.file_digest(path.open("rb"), "sha256").hexdigest()


def test_a_large_body_streams_both_ways_without_being_held(
    client: tuple[ApiClient, Store], source: Path, tmp_path: Path
) -> None:
    api, store = client
    checksum = _sha256(source)
    tracemalloc.start()
    try:
        with source.open("rb") as upload:
            api.transfer(
                "PUT",
                "objects/a%252Fb",
                headers={"x-atonix-checksum-sha256": checksum},
                upload=upload,
                length=SIZE,
            ).close()
        copy = tmp_path / "copy.bin"
        seen: list[int] = []
        response = api.transfer("GET", "objects/a%252Fb")
        try:
            assert response.status == 200
            assert response.headers["content-length"] == str(SIZE)
            with copy.open("wb") as out:
                assert response.copy_to(out, seen.append) == SIZE
        finally:
            response.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert _sha256(copy) == checksum
    assert sum(seen) == SIZE
    assert store.largest_read <= 1 << 20
    assert peak < 12 << 20, f"peak {peak} bytes for a {SIZE}-byte round trip"
    # Percent-decoded once, as a server does: the key a%2Fb, never a/b.
    assert store.paths[0] == "/api/v1/objects/a%2Fb"


def test_chunks_and_errors(client: tuple[ApiClient, Store], tmp_path: Path) -> None:
    api, _ = client
    with pytest.raises(ApiFailure) as missing:
        api.transfer("GET", "objects/nothing")
    assert (missing.value.status, missing.value.code) == (404, "NOT_FOUND")
    with pytest.raises(ApiFailure) as headless:
        api.transfer("HEAD", "objects/nothing")
    assert (headless.value.status, headless.value.code) == (404, "NOT_FOUND")

    small = tmp_path / "small"
    small.write_bytes(b"hello")
    with small.open("rb") as upload, pytest.raises(ApiFailure) as bad:
        api.transfer(
            "PUT",
            "objects/x",
            headers={"x-atonix-checksum-sha256": "0" * 64},
            upload=upload,
            length=5,
        )
    assert (bad.value.status, bad.value.code) == (400, "BAD_DIGEST")

    response = api.transfer("GET", "objects/x")  # the store kept the bytes it checked
    try:
        assert b"".join(response.chunks()) == b"hello"
    finally:
        response.close()


def test_the_file_wrapper_copies_from_where_the_file_stands(tmp_path: Path) -> None:
    data = os.urandom(3 << 20)
    (tmp_path / "in").write_bytes(data)
    handle = (tmp_path / "in").open("rb")
    handle.seek(1000)
    with (tmp_path / "out").open("wb") as out:
        copied = FileWrapper(handle).copy_to(out, str(2 << 20), None)
    handle.close()
    assert copied == 2 << 20
    assert (tmp_path / "out").read_bytes() == data[1000 : 1000 + (2 << 20)]


def test_a_download_that_does_not_match_its_checksum_leaves_the_file_alone(
    client: tuple[ApiClient, Store], tmp_path: Path
) -> None:
    from atonix_cli import transfer
    from atonix_cli.errors import CliError

    api, _ = client
    data = os.urandom(3 << 20)
    (tmp_path / "in").write_bytes(data)
    with (tmp_path / "in").open("rb") as upload:
        checksum = hashlib.sha256(data).hexdigest()
        headers = {"x-atonix-checksum-sha256": checksum}
        api.transfer("PUT", "objects/x", headers=headers, upload=upload, length=len(data)).close()
    dest = tmp_path / "dest"
    dest.write_bytes(b"before")
    for claimed, ok in ((checksum, True), ("0" * 64, False)):
        response = api.transfer("GET", "objects/x", params={"sum": claimed})
        try:
            if ok:
                assert transfer.download(response, str(dest), verify=True) == len(data)
                assert dest.read_bytes() == data
                dest.write_bytes(b"before")
                continue
            if isinstance(api.transport, HttpTransport):
                with pytest.raises(CliError, match="do not match"):
                    transfer.download(response, str(dest), verify=True)
                assert dest.read_bytes() == b"before"
            else:  # in-process nothing is in transit: not hashed again
                transfer.download(response, str(dest), verify=True)
        finally:
            response.close()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dest")] == []


def test_a_server_refusing_mid_upload_is_one_clear_error(
    client: tuple[ApiClient, Store], source: Path
) -> None:
    from atonix_cli.errors import CliError

    api, _ = client
    with source.open("rb") as upload, pytest.raises(CliError) as refused:
        api.transfer("PUT", "objects/refuse", upload=upload, length=SIZE).close()
    error = refused.value
    if isinstance(error, ApiFailure):
        assert error.code == "TOO_LARGE"
    else:
        assert "broke during PUT" in error.message


def test_progress_bars_only_for_transfers_worth_one() -> None:
    from atonix_cli import transfer

    with transfer.progress_bar(1 << 20, enabled=True) as small:
        assert small is None
    with transfer.progress_bar(64 << 20, enabled=False) as piped:
        assert piped is None
    with transfer.progress_bar(64 << 20, enabled=True) as bars:
        assert bars is not None
        advance = bars.step("put big")
        for _ in range(64):
            advance(1 << 20)
    with transfer.progress_bar(None, enabled=True) as unknown:  # stdin: length not known yet
        assert unknown is not None
        unknown.step("put -")(123)


def test_a_streamed_read_is_retried_while_the_endpoint_is_unavailable(
    client: tuple[ApiClient, Store], tmp_path: Path
) -> None:
    api, store = client
    if not isinstance(api.transport, HttpTransport):
        pytest.skip("the embedded engine has no network to wait for")
    (tmp_path / "in").write_bytes(b"after a while")
    with (tmp_path / "in").open("rb") as upload:
        checksum = hashlib.sha256(b"after a while").hexdigest()
        headers = {"x-atonix-checksum-sha256": checksum}
        api.transfer("PUT", "objects/x", headers=headers, upload=upload, length=13).close()
    store.unavailable = 2
    response = api.transfer("GET", "objects/x")
    try:
        assert response.read() == b"after a while"
    finally:
        response.close()
    store.unavailable = 9
    with pytest.raises(ApiFailure) as busy:
        api.transfer("GET", "objects/x")
    assert busy.value.code == "SERVICE_UNAVAILABLE"
