"""The timeline of due work: due transitions complete in due order, at their due timestamps."""

from __future__ import annotations

from tests.support.api import expect
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
