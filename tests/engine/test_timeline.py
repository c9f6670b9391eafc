"""The timeline of due work: due transitions complete in due order, at their due timestamps."""

from __future__ import annotations

from tests.support.api import ADVANCE, expect, expect_error, launch
from tests.support.engine import EPOCH, LocalEngine

INSTANCES = "/api/v1/services/instances/"


def test_advancing_completes_due_transitions_in_order_at_their_due_times(
    manual: LocalEngine,
) -> None:
    first = expect(
        manual.admin.post(
            INSTANCES, json={"name": "a", "flavor": "t3.micro", "image": "ubuntu-22.04"}
        ),
        201,
    )
    manual.advance(1)
    second = expect(
        manual.admin.post(
            INSTANCES, json={"name": "b", "flavor": "t3.micro", "image": "ubuntu-22.04"}
        ),
        201,
    )
    manual.advance(60)  # both boots (3 s each) fall due inside this one step
    a = expect(manual.admin.get(f"{INSTANCES}{first['instance_id']}/"), 200)
    b = expect(manual.admin.get(f"{INSTANCES}{second['instance_id']}/"), 200)
    assert (a["status"], b["status"]) == ("running", "running")
    # Each completed at its own due time, not at the time of the request that noticed it.
    assert a["updated_at"].startswith(EPOCH.replace(second=3).strftime("%Y-%m-%dT%H:%M:%S"))
    assert b["updated_at"].startswith(EPOCH.replace(second=4).strftime("%Y-%m-%dT%H:%M:%S"))


def test_the_manual_clock_stops_short_of_the_end_of_time(manual: LocalEngine) -> None:
    from datetime import timedelta

    from engine.governance import LATEST_MANUAL_TIME

    with manual.db.session(write=True) as session:
        manual.db.set_manual_now(session, LATEST_MANUAL_TIME - timedelta(days=1))
    expect(manual.admin.post(ADVANCE, json={"seconds": 3600}), 200)
    expect_error(manual.admin.post(ADVANCE, json={"seconds": 86400}), 400, "VALIDATION_ERROR")
    # The longest-lived API key still has an expiry the database can hold.
    key = {"name": "late", "expires_in_days": 3650}
    expect(manual.admin.post("/api/v1/auth/keys/", json=key), 201)


def test_a_completed_transition_fires_its_hook_at_its_due_time(manual: LocalEngine) -> None:
    from datetime import timedelta

    from engine import lifecycle

    fired: list[tuple[str, str, str, object]] = []

    def hook(conn: object, machine: lifecycle.Lifecycle, rid: str, state: str, at: object) -> None:
        fired.append((machine.resource_type, rid, state, at))

    lifecycle.ON_COMPLETE.append(hook)
    try:
        iid = launch(manual.admin, "evented")["instance_id"]
        assert fired == []
        manual.advance(60)  # nobody reads the instance; the event still comes, at 3 s
        assert [(t, r, s) for t, r, s, _ in fired] == [("instance", iid, "running")]
        assert fired[0][3] == EPOCH + timedelta(seconds=3)
    finally:
        lifecycle.ON_COMPLETE.remove(hook)
