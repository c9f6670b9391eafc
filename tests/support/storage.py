"""Paths and helpers for bucket and object tests, in-process or against a server."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import quote

import httpx

from tests.support.api import SERVICES, expect

BUCKETS = f"{SERVICES}/buckets/"
OBJECTS = f"{SERVICES}/s3-objects/"


def bucket(ref: str, action: str = "") -> str:
    return f"{BUCKETS}{ref}/{action + '/' if action else ''}"


def data(ref: str, key: str) -> str:
    """The data route of one key: every byte of the key percent-encoded, dots too, so that no
    client or server reads `..` in a key as a path step."""
    return f"{BUCKETS}{ref}/objects/" + quote(key, safe="").replace(".", "%2E")


def obj(object_id: str, action: str = "") -> str:
    return f"{OBJECTS}{object_id}/{action + '/' if action else ''}"


def make_bucket(client: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    made: dict[str, Any] = expect(client.post(BUCKETS, json={"bucket_name": name, **fields}), 201)
    return made


def put(client: httpx.Client, ref: str, key: str, content: bytes, **headers: str) -> dict[str, Any]:
    """Upload with the SHA-256 the CLI sends; the stored object's body."""
    sent = {"x-atonix-checksum-sha256": hashlib.sha256(content).hexdigest(), **headers}
    stored: dict[str, Any] = expect(client.put(data(ref, key), content=content, headers=sent), 200)
    return stored


def keys_of(page: dict[str, Any]) -> list[str]:
    return [o["object_key"] for o in page["results"]]
