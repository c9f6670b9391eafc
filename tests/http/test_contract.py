"""The HTTP contract (SPEC A1, A3): status codes, the error body, request ids, malformed input."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx

from engine.schema import HEAD
from tests.support.api import (
    FLAVORS,
    HEALTH,
    IMAGES,
    INSTANCES,
    User,
    expect,
    expect_error,
    image,
    instance,
    launch,
)

BODY = {"name": "web", "flavor": "t3.micro", "image": "ubuntu-22.04"}


def test_health_is_public(anonymous: httpx.Client) -> None:
    assert expect(anonymous.get(HEALTH), 200) == {
        "status": "ok",
        "version": "0.1.0",
        "schema_version": HEAD,
    }


def test_create_is_201_with_the_resource(make_user: Callable[..., User]) -> None:
    user = make_user()
    response = user.client.post(INSTANCES, json=BODY)
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["instance_id"].startswith("i-") and len(body["instance_id"]) == 14
    assert body["owner"] == user.username


def test_deleting_an_instance_is_202_and_an_image_204(make_user: Callable[..., User]) -> None:
    user = make_user()
    iid = launch(user.client)["instance_id"]
    response = user.client.delete(instance(iid))
    assert (response.status_code, response.content) == (202, b"")
    image_id = expect(user.client.post(IMAGES, json={"name": "tmp"}), 201)["image_id"]
    response = user.client.delete(image(image_id))
    assert (response.status_code, response.content) == (204, b"")


def test_an_unknown_id_is_404_with_the_error_body(make_user: Callable[..., User]) -> None:
    user = make_user()
    response = user.client.get(instance("i-000000000000"))
    error = expect_error(response, 404, "NOT_FOUND")
    assert error["error"] == "instance i-000000000000 not found"
    assert error["request_id"].startswith("req-")


def test_an_unknown_path_is_404(admin: httpx.Client) -> None:
    expect_error(admin.get("/api/v1/services/teleporters/"), 404, "NOT_FOUND")


def test_a_wrong_method_is_405_naming_the_allowed_ones(admin: httpx.Client) -> None:
    error = expect_error(admin.delete(INSTANCES), 405, "METHOD_NOT_ALLOWED")
    assert error["details"] == {"allowed": ["GET", "POST"]}
    expect_error(admin.put(FLAVORS), 405, "METHOD_NOT_ALLOWED")


def test_malformed_json_is_400(make_user: Callable[..., User]) -> None:
    user = make_user()
    for raw in (b"{not json", b'["a list"]', b"\xff\xfe"):
        response = user.client.post(
            INSTANCES, content=raw, headers={"Content-Type": "application/json"}
        )
        expect_error(response, 400, "VALIDATION_ERROR")
    assert expect(user.client.get(INSTANCES), 200)["count"] == 0


def test_an_unknown_field_is_400_naming_it(make_user: Callable[..., User]) -> None:
    user = make_user()
    error = expect_error(
        user.client.post(INSTANCES, json={**BODY, "colour": "blue"}), 400, "VALIDATION_ERROR"
    )
    assert error["details"] == {"colour": ["unknown field"]}


def test_every_response_carries_a_request_id(admin: httpx.Client, anonymous: httpx.Client) -> None:
    ids = {
        admin.get(FLAVORS).headers["x-request-id"],
        admin.get(FLAVORS).headers["x-request-id"],
        anonymous.get(HEALTH).headers["x-request-id"],
        anonymous.get(INSTANCES).headers["x-request-id"],
    }
    assert len(ids) == 4
    echoed = admin.get(FLAVORS, headers={"X-Request-Id": "trace-42"})
    assert echoed.headers["x-request-id"] == "trace-42"


def test_head_answers_like_get_without_a_body(admin: httpx.Client) -> None:
    response = admin.head(FLAVORS)
    assert (response.status_code, response.content) == (200, b"")
    assert int(response.headers["content-length"]) > 0


def test_a_body_over_one_mebibyte_is_413(make_user: Callable[..., User]) -> None:
    user = make_user()
    huge = {**BODY, "user_data": "x" * (1 << 20)}
    expect_error(user.client.post(INSTANCES, json=huge), 413, "TOO_LARGE")
    assert expect(user.client.get(INSTANCES), 200)["count"] == 0


def test_a_json_body_sent_chunked_is_read_and_held_to_the_limit(
    make_user: Callable[..., User],
) -> None:
    """A body with no Content-Length (Transfer-Encoding: chunked) is read like any other."""
    user = make_user()
    encoded = json.dumps(BODY).encode()
    headers = {"content-type": "application/json"}
    created = user.client.post(INSTANCES, content=iter([encoded[:7], encoded[7:]]), headers=headers)
    assert expect(created, 201)["name"] == BODY["name"]
    huge = json.dumps({**BODY, "user_data": "x" * (1 << 20)}).encode()
    chunks = iter([huge[i : i + 65536] for i in range(0, len(huge), 65536)])
    expect_error(user.client.post(INSTANCES, content=chunks, headers=headers), 413, "TOO_LARGE")
    assert expect(user.client.get(INSTANCES), 200)["count"] == 1


def test_a_refused_unread_body_leaves_the_connection_usable(make_user: Callable[..., User]) -> None:
    """The server reads and drops a body it refused unread (413, 404), so the client's next
    request on the same keep-alive connection is answered. Unread, the server closed that
    connection under the client, which now and then sent its next request into the close."""
    user = make_user()
    huge = {**BODY, "user_data": "x" * (1 << 20)}
    connections = set()
    for _ in range(5):
        expect_error(user.client.post(INSTANCES, json=huge), 413, "TOO_LARGE")
        expect_error(
            user.client.post("/api/v1/no-such-thing/", content=b"y" * 4096), 404, "NOT_FOUND"
        )
        listed = user.client.get(INSTANCES)
        assert expect(listed, 200)["count"] == 0
        connections.add(listed.extensions["network_stream"].get_extra_info("client_addr"))
    assert len(connections) == 1, "the server closed a connection after refusing a body"
