"""The OpenAPI document as a client fetches it: public, and naming every route."""

from __future__ import annotations

import httpx

from engine.api.routes import every_route
from tests.support.api import OPENAPI, expect


def test_the_openapi_document_lists_every_route(anonymous: httpx.Client) -> None:
    response = anonymous.get(OPENAPI)
    doc = expect(response, 200)
    assert response.headers["content-type"] == "application/json"
    assert doc["openapi"].startswith("3.1")
    assert doc["info"]["title"] and doc["info"]["version"] == "0.1.0"
    described = {(m.upper(), p) for p, ops in doc["paths"].items() for m in ops}
    # A `{key:path}` parameter (the rest of the path) is documented as `{key}`.
    assert described == {(r.method, r.path.replace(":path}", "}")) for r in every_route()}
    assert set(doc["components"]["securitySchemes"]) == {"Token", "ApiKey", "Bearer"}
