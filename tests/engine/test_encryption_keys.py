"""Encryption keys: CRUD, rotate, enable, disable; material made by the engine, wrapped by the
master key and never returned; data keys for storage, refused while a key is disabled."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from engine.clock import utcnow
from engine.context import Ctx, Principal
from engine.errors import InternalError, InvalidState, ValidationFailed
from engine.storage import sealing
from engine.storage.data_keys import bucket_key, new_data_key, unwrap_data_key
from engine.storage.encryption_keys import EncryptionKeyMaterial
from engine.storage.master_key import MASTER_ENV, MASTER_FILE
from tests.support.api import AUDIT, SERVICES, expect, expect_error
from tests.support.engine import LocalEngine

KEYS = f"{SERVICES}/encryption-keys/"
FIELDS = {
    "resource_id",
    "key_id",
    "name",
    "description",
    "owner",
    "region",
    "tags",
    "metadata",
    "created_at",
    "updated_at",
    "key_type",
    "algorithm",
    "key_state",
    "rotation_enabled",
    "rotation_period_days",
    "last_rotated_at",
    "next_rotation_at",
    "rotation_count",
    "encryption_operations_count",
    "scheduled_deletion_date",
}


def key(key_id: str, action: str = "") -> str:
    return f"{KEYS}{key_id}/{action + '/' if action else ''}"


def _create(client: httpx.Client, name: str = "app-data", **fields: Any) -> dict[str, Any]:
    created: dict[str, Any] = expect(client.post(KEYS, json={"name": name, **fields}), 201)
    return created


def _principal(username: str, role: str = "developer") -> Principal:
    return Principal(
        user_id=1, username=username, role=role, scopes=("*",), credential="test", credential_id=""
    )


@contextmanager
def unit_of_work(local: LocalEngine, username: str = "system", write: bool = True) -> Iterator[Ctx]:
    with local.db.session(write=write) as session:
        yield Ctx(db=local.db, session=session, principal=_principal(username), now=utcnow())


def test_create_shows_every_field_and_never_the_material(engine: LocalEngine) -> None:
    alice = engine.user()
    created = _create(alice.client, description="app secrets", tags={"team": "a"})
    assert set(created) == FIELDS
    assert created["key_id"].startswith("key-") and len(created["key_id"]) == 16
    assert (created["key_type"], created["algorithm"], created["key_state"]) == (
        "symmetric",
        "AES_256",
        "enabled",
    )
    assert created["rotation_enabled"] is True and created["rotation_period_days"] == 90
    assert created["rotation_count"] == 0 and created["encryption_operations_count"] == 0
    assert created["last_rotated_at"] is None and created["next_rotation_at"] is not None
    assert created["owner"] == alice.username and created["tags"] == {"team": "a"}
    shown = expect(alice.client.get(key(created["key_id"])), 200)
    assert shown == created
    listed = expect(alice.client.get(KEYS), 200)
    assert [k["key_id"] for k in listed["results"]] == [created["key_id"]]
    # No route returns anything that looks like the material, wrapped or not.
    with unit_of_work(engine) as ctx:
        row = ctx.session.exec(select(EncryptionKeyMaterial)).one()
    texts = [json.dumps(shown), json.dumps(listed)]
    texts.append(expect(engine.admin.get(AUDIT, params={"page_size": 100}), 200).__repr__())
    for text in texts:
        assert row.wrapped.hex() not in text
        assert base64.b64encode(row.wrapped).decode() not in text
    assert "material" not in json.dumps(shown)


def test_the_name_defaults_to_the_id_and_is_unique_per_owner(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    unnamed = expect(alice.client.post(KEYS, json={}), 201)
    assert unnamed["name"] == unnamed["key_id"]
    _create(alice.client, "shared-name")
    error = expect_error(alice.client.post(KEYS, json={"name": "shared-name"}), 409, "CONFLICT")
    assert "shared-name" in error["error"]
    _create(bob.client, "shared-name")  # another owner's names are not in the way
    other = _create(alice.client, "other")
    expect_error(
        alice.client.patch(key(other["key_id"]), json={"name": "shared-name"}), 409, "CONFLICT"
    )
    renamed = expect(alice.client.patch(key(other["key_id"]), json={"name": "other"}), 200)
    assert renamed["name"] == "other"
    expect_error(
        alice.client.patch(key(other["key_id"]), json={"name": unnamed["key_id"]}),
        400,
        "VALIDATION_ERROR",
    )
    back = expect(alice.client.patch(key(other["key_id"]), json={"name": other["key_id"]}), 200)
    assert back["name"] == other["key_id"]


def test_validation(engine: LocalEngine) -> None:
    alice = engine.user()
    for body, field in (
        ({"key_type": "quantum"}, "key_type"),
        ({"algorithm": "RSA_2048"}, "algorithm"),
        ({"key_type": "asymmetric-rsa", "algorithm": "AES_256"}, "algorithm"),
        ({"rotation_period_days": 0}, "rotation_period_days"),
        ({"rotation_period_days": 9999}, "rotation_period_days"),
        ({"material": "00" * 32}, "material"),
        ({"key_state": "disabled"}, "key_state"),
        ({"name": ""}, "name"),
        ({"name": "key-0123456789ab"}, "name"),
    ):
        error = expect_error(alice.client.post(KEYS, json=body), 400, "VALIDATION_ERROR")
        assert field in error["details"], (body, error)
    expect_error(alice.client.post(KEYS, content=b"[1]"), 400, "VALIDATION_ERROR")
    made = _create(alice.client)
    error = expect_error(
        alice.client.patch(key(made["key_id"]), json={"key_type": "asymmetric-rsa"}),
        400,
        "VALIDATION_ERROR",
    )
    assert "key_type" in error["details"]


def test_asymmetric_keys_get_their_algorithms(engine: LocalEngine) -> None:
    alice = engine.user()
    ecc = _create(alice.client, "signing", key_type="asymmetric-ecc")
    assert ecc["algorithm"] == "ECC_NIST_P256"
    rsa = _create(alice.client, "rsa", key_type="asymmetric-rsa", algorithm="RSA_2048")
    assert rsa["algorithm"] == "RSA_2048"
    expect(alice.client.post(key(rsa["key_id"], "rotate")), 200)


def test_other_users_keys_are_404_and_admins_see_all(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    made = _create(alice.client)
    for request in (
        bob.client.get(key(made["key_id"])),
        bob.client.patch(key(made["key_id"]), json={"description": "x"}),
        bob.client.delete(key(made["key_id"])),
        bob.client.post(key(made["key_id"], "rotate")),
        bob.client.post(key(made["key_id"], "disable")),
    ):
        expect_error(request, 404, "NOT_FOUND")
    assert expect(bob.client.get(KEYS), 200)["count"] == 0
    everyone = expect(engine.admin.get(KEYS, params={"owner": alice.username}), 200)
    assert [k["key_id"] for k in everyone["results"]] == [made["key_id"]]


def test_viewers_and_read_scoped_credentials_cannot_write(engine: LocalEngine) -> None:
    viewer = engine.user(role="viewer")
    expect_error(viewer.client.post(KEYS, json={"name": "x"}), 403, "FORBIDDEN")
    expect(viewer.client.get(KEYS), 200)


def test_rotate_keeps_every_version_and_counts(engine: LocalEngine) -> None:
    alice = engine.user()
    made = _create(alice.client, rotation_period_days=30)
    before = made["next_rotation_at"]
    answer = expect(alice.client.post(key(made["key_id"], "rotate")), 200)
    assert answer == {"status": "Key rotated successfully"}
    shown = expect(alice.client.get(key(made["key_id"])), 200)
    assert shown["rotation_count"] == 1
    assert shown["last_rotated_at"] is not None and shown["next_rotation_at"] != before
    expect(alice.client.post(key(made["key_id"], "rotate")), 200)
    with unit_of_work(engine) as ctx:
        versions = ctx.session.exec(
            select(EncryptionKeyMaterial.version).where(
                EncryptionKeyMaterial.key_id == made["key_id"]
            )
        ).all()
    assert sorted(versions) == [1, 2, 3]
    audit = expect(
        alice.client.get(AUDIT, params={"resource_id": made["key_id"], "action": "rotate"}), 200
    )
    assert audit["count"] == 2
    assert audit["results"][0]["resource_type"] == "encryption_key"


def test_disable_and_enable_follow_the_state_machine(engine: LocalEngine) -> None:
    alice = engine.user()
    made = _create(alice.client)
    disabled = expect(alice.client.post(key(made["key_id"], "disable")), 200)
    assert disabled["key_state"] == "disabled"
    expect_error(alice.client.post(key(made["key_id"], "disable")), 409, "INVALID_STATE")
    error = expect_error(alice.client.post(key(made["key_id"], "rotate")), 409, "INVALID_STATE")
    assert "enabled" in error["error"]
    enabled = expect(alice.client.post(key(made["key_id"], "enable")), 200)
    assert enabled["key_state"] == "enabled"
    expect_error(alice.client.post(key(made["key_id"], "enable")), 409, "INVALID_STATE")
    assert expect(alice.client.get(KEYS, params={"key_state": "enabled"}), 200)["count"] == 1
    assert expect(alice.client.get(KEYS, params={"key_state": "disabled"}), 200)["count"] == 0


def test_update_and_delete(engine: LocalEngine) -> None:
    alice = engine.user()
    made = _create(alice.client)
    updated = expect(
        alice.client.patch(
            key(made["key_id"]),
            json={"description": "d", "rotation_enabled": False, "tags": {"a": "b"}},
        ),
        200,
    )
    assert updated["rotation_enabled"] is False and updated["next_rotation_at"] is None
    assert (updated["description"], updated["tags"]) == ("d", {"a": "b"})
    again = expect(
        alice.client.patch(
            key(made["key_id"]), json={"rotation_enabled": True, "rotation_period_days": 7}
        ),
        200,
    )
    assert again["next_rotation_at"] is not None and again["rotation_period_days"] == 7
    expect(alice.client.delete(key(made["key_id"])), 204)
    expect_error(alice.client.get(key(made["key_id"])), 404, "NOT_FOUND")
    with unit_of_work(engine) as ctx:
        left = ctx.session.exec(
            select(EncryptionKeyMaterial).where(EncryptionKeyMaterial.key_id == made["key_id"])
        ).all()
    assert left == []


def test_search_ordering_and_filters(engine: LocalEngine) -> None:
    alice = engine.user()
    for name in ("beta", "alpha", "gamma"):
        _create(alice.client, name)
    page = expect(alice.client.get(KEYS, params={"ordering": "name"}), 200)
    assert [k["name"] for k in page["results"]] == ["alpha", "beta", "gamma"]
    found = expect(alice.client.get(KEYS, params={"search": "AMM"}), 200)
    assert [k["name"] for k in found["results"]] == ["gamma"]
    assert expect(alice.client.get(KEYS, params={"name": "beta"}), 200)["count"] == 1


# --- the master key and the storage interface ------------------------------------------------


def test_master_key_is_created_once_0600_in_the_data_dir(engine: LocalEngine) -> None:
    alice = engine.user()
    _create(alice.client)
    path = Path(engine.db.data_dir) / MASTER_FILE
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(base64.b64decode(path.read_text().strip())) == 32
    first = path.read_text()
    _create(alice.client, "second")
    assert path.read_text() == first
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]


def test_master_key_from_the_environment(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MASTER_ENV, base64.b64encode(b"k" * 32).decode())
    with unit_of_work(engine, "alice") as ctx:
        key_id = bucket_key(ctx, bucket_id="bkt-000000000001", owner="alice")
        data_key, wrapped = new_data_key(ctx, key_id=key_id)
    assert not (Path(engine.db.data_dir) / MASTER_FILE).exists()
    with unit_of_work(engine, "alice") as ctx:
        opened = unwrap_data_key(ctx, key_id=key_id, wrapped=wrapped)
    assert opened == data_key
    # Another master key cannot open it, and says so.
    monkeypatch.setenv(MASTER_ENV, base64.b64encode(b"z" * 32).decode())
    with pytest.raises(InternalError, match="another master key"), unit_of_work(engine) as ctx:
        unwrap_data_key(ctx, key_id=key_id, wrapped=wrapped)
    monkeypatch.setenv(MASTER_ENV, "not base64 of 32 bytes")
    with pytest.raises(InternalError, match="base64 of 32 bytes"), unit_of_work(engine) as ctx:
        new_data_key(ctx, key_id=key_id)


def test_servers_sharing_a_database_must_share_the_master_key(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = engine.user()
    monkeypatch.setenv(MASTER_ENV, base64.b64encode(b"a" * 32).decode())
    _create(alice.client, "first")
    _create(alice.client, "second")
    # Another server on the same database with a master key of its own makes nothing.
    monkeypatch.setenv(MASTER_ENV, base64.b64encode(b"b" * 32).decode())
    error = expect_error(alice.client.post(KEYS, json={"name": "third"}), 500, "INTERNAL_ERROR")
    assert "same ATONIX_MASTER_KEY" in error["error"]
    with pytest.raises(InternalError, match="same ATONIX_MASTER_KEY"), unit_of_work(engine) as ctx:
        bucket_key(ctx, bucket_id="bkt-1", owner=alice.username)
    monkeypatch.setenv(MASTER_ENV, base64.b64encode(b"a" * 32).decode())
    _create(alice.client, "third")


def test_an_unusable_data_dir_is_a_clear_error(
    engine: LocalEngine, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("")
    monkeypatch.setattr(engine.db, "data_dir", blocker / "data")
    alice = engine.user()
    error = expect_error(alice.client.post(KEYS, json={"name": "x"}), 500, "INTERNAL_ERROR")
    assert "master key" in error["error"] and MASTER_ENV in error["error"]
    assert expect(alice.client.get(KEYS), 200)["count"] == 0


def test_concurrent_processes_agree_on_one_master_key(tmp_path: Path) -> None:
    probe = (
        "import sys; from pathlib import Path; from engine.storage import master_key as k\n"
        "class D: data_dir = Path(sys.argv[1])\n"
        "print(k.master_key(D()).hex())\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", probe, str(tmp_path / "data")],
            stdout=subprocess.PIPE,
            text=True,
            env={k: v for k, v in os.environ.items() if k != MASTER_ENV},
        )
        for _ in range(6)
    ]
    answers = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert len(answers) == 1 and len(answers.pop()) == 64
    assert [p.name for p in (tmp_path / "data").iterdir()] == ["master.key"]


def test_bucket_key_is_created_once_named_after_the_bucket(engine: LocalEngine) -> None:
    alice = engine.user()
    with unit_of_work(engine, alice.username) as ctx:
        first = bucket_key(ctx, bucket_id="bkt-aaaaaaaaaaaa", owner=alice.username)
    with unit_of_work(engine, alice.username) as ctx:
        again = bucket_key(ctx, bucket_id="bkt-aaaaaaaaaaaa", owner=alice.username)
        other = bucket_key(ctx, bucket_id="bkt-bbbbbbbbbbbb", owner=alice.username)
    assert first == again != other
    shown = expect(alice.client.get(key(first)), 200)
    assert shown["name"] == "bucket-bkt-aaaaaaaaaaaa" and shown["owner"] == alice.username
    created = expect(
        alice.client.get(AUDIT, params={"resource_id": first, "action": "create"}), 200
    )
    assert created["count"] == 1
    assert created["results"][0]["details"]["bucket_id"] == "bkt-aaaaaaaaaaaa"


def test_bucket_key_checks_a_given_key(engine: LocalEngine) -> None:
    alice, bob = engine.user(), engine.user()
    mine = _create(alice.client, "app-data")
    theirs = _create(bob.client, "bobs")
    rsa = _create(alice.client, "rsa", key_type="asymmetric-ecc")
    with unit_of_work(engine, alice.username) as ctx:
        by_id = bucket_key(ctx, bucket_id="bkt-1", owner=alice.username, kms_key_id=mine["key_id"])
        by_name = bucket_key(ctx, bucket_id="bkt-1", owner=alice.username, kms_key_id="app-data")
    assert by_id == by_name == mine["key_id"]
    for ref, words in (
        (theirs["key_id"], "of yours"),
        ("nope", "of yours"),
        (rsa["key_id"], "sym"),
    ):
        with pytest.raises(ValidationFailed, match=words) as refused, unit_of_work(engine) as ctx:
            bucket_key(ctx, bucket_id="bkt-1", owner=alice.username, kms_key_id=ref)
        assert "kms_key_id" in refused.value.details
    expect(alice.client.post(key(mine["key_id"], "disable")), 200)
    with pytest.raises(InvalidState, match=mine["key_id"]), unit_of_work(engine) as ctx:
        bucket_key(ctx, bucket_id="bkt-1", owner=alice.username, kms_key_id=mine["key_id"])


def test_data_keys_wrap_and_unwrap_across_rotations(engine: LocalEngine) -> None:
    alice = engine.user()
    made = _create(alice.client)
    key_id = made["key_id"]
    issued: list[tuple[bytes, bytes]] = []
    for _ in range(3):
        with unit_of_work(engine, alice.username) as ctx:
            issued.append(new_data_key(ctx, key_id=key_id))
        expect(alice.client.post(key(key_id, "rotate")), 200)
    data_keys = {d for d, _ in issued}
    assert len(data_keys) == 3 and all(len(d) == 32 for d in data_keys)
    with unit_of_work(engine, alice.username, write=False) as ctx:
        for data_key, wrapped in issued:
            assert data_key not in wrapped
            assert unwrap_data_key(ctx, key_id=key_id, wrapped=wrapped) == data_key
    shown = expect(alice.client.get(key(key_id)), 200)
    assert shown["encryption_operations_count"] == 3 and shown["rotation_count"] == 3


def test_a_data_key_does_not_open_under_another_key_or_when_damaged(engine: LocalEngine) -> None:
    alice = engine.user()
    one, two = _create(alice.client, "one")["key_id"], _create(alice.client, "two")["key_id"]
    with unit_of_work(engine) as ctx:
        _, wrapped = new_data_key(ctx, key_id=one)
    for key_id, blob in (
        (two, wrapped),
        (one, wrapped[:-1] + bytes([wrapped[-1] ^ 1])),
        (one, wrapped[:10]),
    ):
        with pytest.raises(InternalError), unit_of_work(engine) as ctx:
            unwrap_data_key(ctx, key_id=key_id, wrapped=blob)


def test_a_disabled_key_refuses_data_keys_naming_itself(engine: LocalEngine) -> None:
    alice = engine.user()
    made = _create(alice.client, "app-data")
    key_id = made["key_id"]
    with unit_of_work(engine) as ctx:
        data_key, wrapped = new_data_key(ctx, key_id=key_id)
    expect(alice.client.post(key(key_id, "disable")), 200)
    for call in (
        lambda ctx: new_data_key(ctx, key_id=key_id),
        lambda ctx: unwrap_data_key(ctx, key_id=key_id, wrapped=wrapped),
    ):
        with pytest.raises(InvalidState) as refused, unit_of_work(engine) as ctx:
            call(ctx)
        assert key_id in refused.value.message and "app-data" in refused.value.message
        assert refused.value.details == {"key_id": key_id, "key_state": "disabled"}
    expect(alice.client.post(key(key_id, "enable")), 200)
    with unit_of_work(engine) as ctx:
        assert unwrap_data_key(ctx, key_id=key_id, wrapped=wrapped) == data_key


def test_rotation_happens_on_use_once_due(manual: LocalEngine) -> None:
    alice = manual.user()
    made = _create(alice.client, rotation_period_days=1)
    with unit_of_work(manual) as ctx:
        ctx.now = manual.db.now(ctx.session)
        _, old = new_data_key(ctx, key_id=made["key_id"])
    manual.advance(86400 + 1)
    with unit_of_work(manual) as ctx:
        ctx.now = manual.db.now(ctx.session)
        _, new = new_data_key(ctx, key_id=made["key_id"])
    shown = expect(manual.admin.get(key(made["key_id"])), 200)  # alice's token has expired
    assert shown["rotation_count"] == 1
    assert old[1:5] != new[1:5]  # wrapped under material versions 1 and 2
    with unit_of_work(manual) as ctx:
        unwrap_data_key(ctx, key_id=made["key_id"], wrapped=old)


def test_sealing_with_an_issued_data_key(engine: LocalEngine, tmp_path: Path) -> None:
    import io

    alice = engine.user()
    made = _create(alice.client)
    with unit_of_work(engine) as ctx:
        data_key, wrapped = new_data_key(ctx, key_id=made["key_id"])
    raw = io.BytesIO()
    writer = sealing.SealingWriter(raw, data_key)
    writer.write(b"hello " * 1000)
    writer.close()
    with unit_of_work(engine, write=False) as ctx:
        opened = unwrap_data_key(ctx, key_id=made["key_id"], wrapped=wrapped)
    assert b"".join(sealing.read_range(raw, opened, 6, 11)) == b"hello"


def test_concurrent_creates_of_one_name_make_one_key(engine: LocalEngine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    alice = engine.user()
    token = alice.client.headers["Authorization"]

    def make(_: int) -> int:
        with engine.client(token) as client:
            return client.post(KEYS, json={"name": "raced"}).status_code

    with ThreadPoolExecutor(6) as pool:
        statuses = sorted(pool.map(make, range(6)))
    assert statuses == [201] + [409] * 5
    assert expect(alice.client.get(KEYS, params={"name": "raced"}), 200)["count"] == 1


def test_the_first_keys_made_at_once_agree_on_the_master_key(engine: LocalEngine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    alice = engine.user()
    token = alice.client.headers["Authorization"]

    def make(n: int) -> int:
        with engine.client(token) as client:
            return client.post(KEYS, json={"name": f"first-{n}"}).status_code

    with ThreadPoolExecutor(6) as pool:
        assert list(pool.map(make, range(6))) == [201] * 6


def test_concurrent_rotations_each_add_one_version(engine: LocalEngine) -> None:
    from concurrent.futures import ThreadPoolExecutor

    alice = engine.user()
    made = _create(alice.client)
    token = alice.client.headers["Authorization"]

    def rotate(_: int) -> int:
        with engine.client(token) as client:
            return client.post(key(made["key_id"], "rotate")).status_code

    with ThreadPoolExecutor(5) as pool:
        assert list(pool.map(rotate, range(5))) == [200] * 5
    assert expect(alice.client.get(key(made["key_id"])), 200)["rotation_count"] == 5
    with unit_of_work(engine) as ctx:
        versions = ctx.session.exec(
            select(EncryptionKeyMaterial.version).where(
                EncryptionKeyMaterial.key_id == made["key_id"]
            )
        ).all()
    assert sorted(versions) == [1, 2, 3, 4, 5, 6]
