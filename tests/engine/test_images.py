"""Images: built-ins for everyone and read-only, own images private or public, in-use deletes."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.api import IMAGES, INSTANCES, expect, expect_error, image, instance, launch
from tests.support.engine import LocalEngine

BUILT_INS = {
    "ami-ubuntu2204",
    "ami-ubuntu2404",
    "ami-debian12",
    "ami-amzn2023",
    "ami-rocky9",
    "ami-win2022",
}


def _make(client: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = expect(client.post(IMAGES, json={"name": name, **fields}), 201)
    return created


def _ids(client: httpx.Client, path: str = IMAGES) -> set[str]:
    page = expect(client.get(path, params={"page_size": 100}), 200)
    return {r["image_id"] for r in page["results"]}


def test_everyone_sees_the_built_in_images(engine: LocalEngine) -> None:
    user = engine.user()
    assert _ids(user.client) == BUILT_INS
    ubuntu = expect(user.client.get(image("ami-ubuntu2204")), 200)
    assert (ubuntu["name"], ubuntu["owner"], ubuntu["is_public"]) == ("ubuntu-22.04", None, True)


def test_own_private_images_are_invisible_to_others(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    secret = _make(alice.client, "golden", is_public=False, os_name="Ubuntu")
    assert secret["image_id"].startswith("ami-") and secret["owner"] == alice.username
    assert secret["image_id"] in _ids(alice.client)
    assert secret["image_id"] not in _ids(bob.client)
    expect_error(bob.client.get(image(secret["image_id"])), 404, "NOT_FOUND")
    error = expect_error(
        bob.client.post(
            INSTANCES, json={"name": "x", "flavor": "t3.micro", "image": secret["image_id"]}
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert "image" in error["details"]
    assert secret["image_id"] in _ids(engine.admin)


def test_others_public_images_are_read_only(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    shared = _make(alice.client, "shared")
    assert shared["image_id"] in _ids(bob.client)
    launch(bob.client, image=shared["image_id"])
    expect_error(
        bob.client.patch(image(shared["image_id"]), json={"name": "mine"}), 403, "FORBIDDEN"
    )
    expect_error(bob.client.delete(image(shared["image_id"])), 403, "FORBIDDEN")
    renamed = expect(alice.client.patch(image(shared["image_id"]), json={"name": "v2"}), 200)
    assert renamed["name"] == "v2"


def test_built_in_images_are_read_only_even_to_admins(engine: LocalEngine) -> None:
    expect_error(engine.admin.patch(image("ami-debian12"), json={"name": "x"}), 403, "FORBIDDEN")
    expect_error(
        engine.admin.put(image("ami-debian12"), json={"is_public": False}), 403, "FORBIDDEN"
    )
    expect_error(engine.admin.delete(image("ami-debian12")), 403, "FORBIDDEN")
    assert expect(engine.admin.get(image("ami-debian12")), 200)["name"] == "debian-12"


def test_public_and_my_images_lists(engine: LocalEngine) -> None:
    alice = engine.user()
    private = _make(alice.client, "private", is_public=False)
    public = _make(alice.client, "public")
    assert _ids(alice.client, f"{IMAGES}public/") == BUILT_INS | {public["image_id"]}
    assert _ids(alice.client, f"{IMAGES}my_images/") == {private["image_id"], public["image_id"]}
    assert _ids(engine.user().client, f"{IMAGES}my_images/") == set()


def test_an_image_in_use_cannot_be_deleted_until_its_instances_are_gone(
    engine: LocalEngine,
) -> None:
    user = engine.user()
    own = _make(user.client, "app", is_public=False)
    iid = launch(user.client, image=own["image_id"])["instance_id"]
    error = expect_error(user.client.delete(image(own["image_id"])), 409, "DEPENDENCY_VIOLATION")
    assert error["details"] == {"instances": 1}
    expect(user.client.post(instance(iid, "terminate")), 200)
    # No instance request has run since: the due termination still counts as done.
    assert user.client.delete(image(own["image_id"])).status_code == 204
    expect_error(user.client.get(image(own["image_id"])), 404, "NOT_FOUND")


def test_an_inactive_image_cannot_be_launched(engine: LocalEngine) -> None:
    user = engine.user()
    own = _make(user.client, "old")
    expect(user.client.patch(image(own["image_id"]), json={"is_active": False}), 200)
    error = expect_error(
        user.client.post(
            INSTANCES, json={"name": "x", "flavor": "t3.micro", "image": own["image_id"]}
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert "image" in error["details"]


def test_image_fields_are_validated(engine: LocalEngine) -> None:
    for body, field in (
        ({"name": "x", "os_type": "beos"}, "os_type"),
        ({"name": "x", "size_gb": 0}, "size_gb"),
        ({"os_type": "linux"}, "name"),
        ({"name": "x", "tags": {"k" * 101: "v"}}, "tags"),
    ):
        error = expect_error(engine.admin.post(IMAGES, json=body), 400, "VALIDATION_ERROR")
        assert field in error["details"], (body, error)
