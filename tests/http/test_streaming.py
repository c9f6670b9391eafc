"""Bodies are streamed both ways: an object larger than the server's memory limit goes in and
comes back whole (issue 6: a server that held a body whole could not serve 5 GB objects)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path

import httpx

from tests.support.server import start_server
from tests.support.storage import BUCKETS

MIB = 1024 * 1024
LIMIT_MIB = 192  # each server process's data segment: the body is well past it
BODY_MIB = 512


def test_an_object_larger_than_the_servers_memory_limit_goes_in_and_comes_back(
    tmp_path: Path,
) -> None:
    server = start_server(tmp_path, memory_limit_mib=LIMIT_MIB)
    block = os.urandom(MIB)
    sent = hashlib.sha256()

    def body() -> Iterator[bytes]:
        for _ in range(BODY_MIB):
            sent.update(block)
            yield block

    try:
        headers = {"Authorization": f"Token {server.admin_api_key}"}
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
            # Encrypted (the default): sealing, too, works chunk by chunk.
            created = client.post(BUCKETS, json={"name": "past-the-limit"})
            assert created.status_code == 201, created.text
            url = f"{BUCKETS}past-the-limit/objects/big.bin"
            put = client.put(url, content=body(), headers={"Content-Length": str(BODY_MIB * MIB)})
            assert put.status_code in (200, 201), put.text
            assert put.json()["size_bytes"] == BODY_MIB * MIB
            received, size = hashlib.sha256(), 0
            with client.stream("GET", url) as got:
                assert got.status_code == 200
                for chunk in got.iter_bytes():
                    received.update(chunk)
                    size += len(chunk)
            assert size == BODY_MIB * MIB
            assert received.hexdigest() == sent.hexdigest()
        assert "MemoryError" not in server.log()
    finally:
        assert server.stop() == 0
