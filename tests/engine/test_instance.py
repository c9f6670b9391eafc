"""Instance state machine on the manual clock: timed transitions, wrong states, protection."""

from __future__ import annotations

import pytest

from tests.support.api import (
    AUDIT,
    CLOCK,
    INSTANCES,
    expect,
    expect_error,
    instance,
    launch,
    quota,
    status_of,
)
from tests.support.engine import LocalEngine


def test_launch_stays_pending_until_the_boot_duration_has_passed(manual: LocalEngine) -> None:
    created = launch(manual.admin)
    assert created["status"] == "pending"
    assert created["launch_time"] == "2030-01-01T00:00:00.000Z"
    manual.advance(2.9)
    assert status_of(manual.admin, created["instance_id"]) == "pending"
    manual.advance(0.1)
    shown = expect(manual.admin.get(instance(created["instance_id"])), 200)
    assert shown["status"] == "running"
    assert shown["is_running"] is True
    # The transition completed at its due time, not at the moment somebody looked.
    assert shown["updated_at"] == "2030-01-01T00:00:03.000Z"


def test_stop_start_and_terminate_pass_through_their_transitional_states(
    manual: LocalEngine,
) -> None:
    iid = launch(manual.admin)["instance_id"]
    manual.advance(3)
    # An action answers with the resource as it left it, so a client needs no second request.
    stopped = expect(manual.admin.post(instance(iid, "stop")), 200)
    assert (stopped["instance_id"], stopped["status"]) == (iid, "stopping")
    assert stopped["stop_time"] == "2030-01-01T00:00:03.000Z"
    assert status_of(manual.admin, iid) == "stopping"
    manual.advance(2)
    shown = expect(manual.admin.get(instance(iid)), 200)
    assert (shown["status"], shown["is_stopped"]) == ("stopped", True)
    assert shown["stop_time"] == "2030-01-01T00:00:03.000Z"

    assert expect(manual.admin.post(instance(iid, "start")), 200)["status"] == "pending"
    assert status_of(manual.admin, iid) == "pending"
    manual.advance(3)
    assert status_of(manual.admin, iid) == "running"

    terminated = expect(manual.admin.post(instance(iid, "terminate")), 200)
    assert (terminated["status"], terminated["private_ip"]) == ("terminating", None)
    assert status_of(manual.admin, iid) == "terminating"
    manual.advance(2)
    shown = expect(manual.admin.get(instance(iid)), 200)
    assert shown["status"] == "terminated"
    assert shown["termination_time"] == "2030-01-01T00:00:08.000Z"


@pytest.mark.parametrize(
    ("setup", "action", "message"),
    [
        ((), "start", "Instance must be stopped"),
        (("stop",), "stop", "Instance must be running"),
        (("stop",), "start", "Instance must be stopped"),  # still stopping
        (("terminate",), "terminate", "Instance must be running or stopped"),
        (("terminate",), "start", "Instance must be stopped"),
    ],
)
def test_an_action_from_the_wrong_state_is_409_and_changes_nothing(
    manual: LocalEngine, setup: tuple[str, ...], action: str, message: str
) -> None:
    iid = launch(manual.admin)["instance_id"]
    manual.advance(3)
    for step in setup:
        expect(manual.admin.post(instance(iid, step)), 200)
    before = expect(manual.admin.get(instance(iid)), 200)
    quotas_before = quota(manual.admin, "vcpus")
    audit_before = expect(manual.admin.get(AUDIT, params={"status": "success"}), 200)["count"]

    error = expect_error(manual.admin.post(instance(iid, action)), 409, "INVALID_STATE")

    assert error["error"].startswith(message)
    assert error["details"]["status"] == before["status"]
    assert expect(manual.admin.get(instance(iid)), 200) == before
    assert quota(manual.admin, "vcpus") == quotas_before
    assert expect(manual.admin.get(AUDIT, params={"status": "success"}), 200)["count"] == (
        audit_before
    )


def test_start_and_stop_while_pending_are_refused(manual: LocalEngine) -> None:
    iid = launch(manual.admin)["instance_id"]
    expect_error(manual.admin.post(instance(iid, "start")), 409, "INVALID_STATE")
    expect_error(manual.admin.post(instance(iid, "stop")), 409, "INVALID_STATE")
    assert status_of(manual.admin, iid) == "pending"


def test_termination_protection_refuses_terminate_and_delete_until_cleared(
    engine: LocalEngine,
) -> None:
    iid = launch(engine.admin, enable_termination_protection=True)["instance_id"]
    for response in (
        engine.admin.post(instance(iid, "terminate")),
        engine.admin.delete(instance(iid)),
    ):
        error = expect_error(response, 409, "INVALID_STATE")
        assert error["error"].startswith("Instance is protected from termination")
    assert status_of(engine.admin, iid) == "running"
    assert quota(engine.admin, "instances")["used"] == 1

    patched = expect(
        engine.admin.patch(instance(iid), json={"enable_termination_protection": False}), 200
    )
    assert patched["enable_termination_protection"] is False
    expect(engine.admin.post(instance(iid, "terminate")), 200)
    assert status_of(engine.admin, iid) == "terminated"


def test_terminate_while_pending_cancels_the_launch_and_releases_everything(
    manual: LocalEngine,
) -> None:
    created = launch(manual.admin, flavor="m5.large")
    iid = created["instance_id"]
    assert quota(manual.admin, "memory_gb")["used"] == 8
    expect(manual.admin.post(instance(iid, "terminate")), 200)
    shown = expect(manual.admin.get(instance(iid)), 200)
    assert shown["status"] == "cancelled"
    manual.advance(60)
    assert status_of(manual.admin, iid) == "cancelled"  # final: nothing completes it further
    for resource_type in ("instances", "vcpus", "memory_gb"):
        assert quota(manual.admin, resource_type)["used"] == 0
    expect_error(manual.admin.post(instance(iid, "start")), 409, "INVALID_STATE")
    expect_error(manual.admin.post(instance(iid, "terminate")), 409, "INVALID_STATE")


def test_delete_terminates_and_answers_202(engine: LocalEngine) -> None:
    iid = launch(engine.admin)["instance_id"]
    response = engine.admin.delete(instance(iid))
    assert response.status_code == 202
    assert response.content == b""
    assert status_of(engine.admin, iid) == "terminated"
    expect_error(engine.admin.delete(instance(iid)), 409, "INVALID_STATE")


def test_a_terminated_instance_cannot_be_updated(engine: LocalEngine) -> None:
    iid = launch(engine.admin)["instance_id"]
    expect(engine.admin.post(instance(iid, "terminate")), 200)
    expect_error(engine.admin.patch(instance(iid), json={"name": "x"}), 409, "INVALID_STATE")


def test_terminated_instances_disappear_after_30_days(manual: LocalEngine) -> None:
    iid = launch(manual.admin)["instance_id"]
    manual.advance(3)
    expect(manual.admin.post(instance(iid, "terminate")), 200)
    manual.advance(29 * 86400)
    assert status_of(manual.admin, iid) == "terminated"
    manual.advance(86400)
    expect_error(manual.admin.get(instance(iid)), 404, "NOT_FOUND")


def test_create_validates_flavor_image_and_fields(engine: LocalEngine) -> None:
    error = expect_error(
        engine.admin.post(
            INSTANCES, json={"name": "x", "flavor": "t9.huge", "image": "ubuntu-22.04"}
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert "flavor" in error["details"]
    error = expect_error(
        engine.admin.post(INSTANCES, json={"name": "x", "flavor": "t3.micro", "image": "nope"}),
        400,
        "VALIDATION_ERROR",
    )
    assert "image" in error["details"]
    error = expect_error(engine.admin.post(INSTANCES, json={"name": "x"}), 400, "VALIDATION_ERROR")
    assert set(error["details"]) == {"flavor", "image"}
    error = expect_error(
        engine.admin.post(
            INSTANCES,
            json={
                "name": "x",
                "flavor": "t3.micro",
                "image": "ubuntu-22.04",
                "root_volume_size_gb": 5,
            },
        ),
        400,
        "VALIDATION_ERROR",
    )
    assert "root_volume_size_gb" in error["details"]
    assert quota(engine.admin, "instances")["used"] == 0


def test_create_accepts_flavor_and_image_ids_as_well_as_names(engine: LocalEngine) -> None:
    created = launch(engine.admin, flavor="t3-small", image="ami-debian12")
    assert (created["flavor"], created["flavor_name"]) == ("t3-small", "t3.small")
    assert (created["image"], created["image_name"]) == ("ami-debian12", "debian-12")
    assert created["flavor_details"]["vcpus"] == 2
    assert created["image_details"]["os_name"] == "Debian"


def test_clock_advances_only_when_manual_and_only_for_admins(
    manual: LocalEngine, engine: LocalEngine
) -> None:
    assert expect(manual.admin.get(CLOCK), 200)["now"] == "2030-01-01T00:00:00.000Z"
    manual.advance(90)
    assert expect(manual.admin.get(CLOCK), 200)["now"] == "2030-01-01T00:01:30.000Z"
    user = manual.user()
    expect_error(user.client.post(f"{CLOCK}advance/", json={"seconds": 1}), 403, "FORBIDDEN")
    expect_error(
        manual.admin.post(f"{CLOCK}advance/", json={"seconds": 0}), 400, "VALIDATION_ERROR"
    )
    expect_error(engine.admin.post(f"{CLOCK}advance/", json={"seconds": 1}), 409, "INVALID_STATE")
