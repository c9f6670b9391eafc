"""The data route through the real server: streamed both ways, keys as a server hands them
over, early 413, HEAD, Range, public objects and presigned URLs with no credentials."""

from __future__ import annotations

import hashlib
import os
import socket
from collections.abc import Callable, Iterator
from urllib.parse import urlsplit

import httpx
import pytest

from tests.support.api import User, expect, expect_error
from tests.support.server import RunningServer
from tests.support.storage import bucket, data, keys_of, make_bucket, obj, put

MIB = 1024 * 1024


@pytest.fixture
def owner(make_user: Callable[..., User]) -> User:
    return make_user()


def _ref(user: User, **fields: object) -> str:
    name = f"b{os.urandom(5).hex()}"
    return str(make_bucket(user.client, name, **fields)["bucket_id"])


def _pattern(size: int) -> Iterator[bytes]:
    block = hashlib.sha256(b"seed").digest() * (MIB // 32)
    left = size
    while left:
        piece = block[: min(len(block), left)]
        left -= len(piece)
        yield piece


def test_a_large_object_streams_up_and_down(owner: User) -> None:
    ref = _ref(owner)
    size = 48 * MIB + 7
    digest = hashlib.sha256()
    for piece in _pattern(size):
        digest.update(piece)
    stored = expect(
        owner.client.put(
            data(ref, "big.bin"),
            content=_pattern(size),
            headers={"x-atonix-checksum-sha256": digest.hexdigest()},
            timeout=120,
        ),
        200,
    )
    assert stored["size_bytes"] == size
    got = hashlib.sha256()
    received = 0
    with owner.client.stream("GET", data(ref, "big.bin"), timeout=120) as response:
        assert response.status_code == 200
        assert response.headers["content-length"] == str(size)
        for chunk in response.iter_bytes():
            received += len(chunk)
            got.update(chunk)
    assert (received, got.hexdigest()) == (size, digest.hexdigest())
    ranged = owner.client.get(data(ref, "big.bin"), headers={"range": f"bytes={size - 10}-"})
    assert ranged.status_code == 206 and len(ranged.content) == 10


def test_chunked_uploads_without_a_length(owner: User) -> None:
    ref = _ref(owner, encryption_enabled=False)
    expect(owner.client.put(data(ref, "chunked"), content=iter([b"a" * 1000, b"b" * 5])), 200)
    assert owner.client.get(data(ref, "chunked")).content == b"a" * 1000 + b"b" * 5


@pytest.mark.parametrize(
    "key", ["../../etc/passwd", "日本語/ファイル.txt", "a%2Fb", "trailing/", "sp ace+plus", "é"]
)
def test_keys_arrive_as_sent(owner: User, server: RunningServer, key: str) -> None:
    ref = _ref(owner)
    put(owner.client, ref, key, key.encode())
    assert owner.client.get(data(ref, key)).content == key.encode()
    assert keys_of(expect(owner.client.get(bucket(ref, "objects")), 200)) == [key]
    assert not (server.data_dir / "etc").exists()


def test_a_declared_length_over_5_gb_is_refused_before_the_body(
    owner: User, server: RunningServer
) -> None:
    ref = _ref(owner)
    address = urlsplit(server.url)
    token = owner.client.headers["authorization"]
    request = (
        f"PUT {data(ref, 'huge')} HTTP/1.1\r\nHost: {address.netloc}\r\n"
        f"Authorization: {token}\r\nContent-Length: {6 * 1024**3}\r\n\r\n"
    ).encode()
    with socket.create_connection((address.hostname, address.port), timeout=10) as conn:
        conn.sendall(request + b"x" * 1000)
        received = b""
        while b"}" not in received:
            piece = conn.recv(65536)
            if not piece:
                break
            received += piece
    answer = received.decode(errors="replace")
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "TOO_LARGE" in answer
    assert expect(owner.client.get(bucket(ref)), 200)["total_objects"] == 0


def test_head_and_conditional_get(owner: User) -> None:
    ref = _ref(owner)
    stored = put(owner.client, ref, "page.html", b"<p>x</p>", **{"content-type": "text/html"})
    head = owner.client.head(data(ref, "page.html"))
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-type"] == "text/html"
    assert head.headers["content-length"] == "8"
    assert head.headers["etag"] == f'"{stored["etag"]}"'
    same = owner.client.get(data(ref, "page.html"), headers={"if-none-match": head.headers["etag"]})
    assert same.status_code == 304
    expect_error(owner.client.get(data(ref, "nope")), 404, "NOT_FOUND")


def test_public_objects_and_presigned_urls_need_no_credentials(
    owner: User, anonymous: httpx.Client
) -> None:
    ref = _ref(owner)
    stored = put(owner.client, ref, "logo.png", b"PNG")
    expect_error(anonymous.get(data(ref, "logo.png")), 401, "UNAUTHENTICATED")
    expect(owner.client.post(obj(stored["object_id"], "make_public")), 200)
    assert anonymous.get(data(ref, "logo.png")).content == b"PNG"
    signed = expect(
        owner.client.post(
            bucket(ref, "presign"), json={"key": "up/load.bin", "method": "PUT", "expires_in": 60}
        ),
        200,
    )
    assert signed["url"].startswith(str(anonymous.base_url).rstrip("/"))
    expect(httpx.put(signed["url"], content=b"via url"), 200)
    fetch = expect(owner.client.post(bucket(ref, "presign"), json={"key": "up/load.bin"}), 200)
    assert httpx.get(fetch["url"]).content == b"via url"
    expect_error(httpx.get(fetch["url"].replace("load.bin", "load.bim")), 403, "FORBIDDEN")
