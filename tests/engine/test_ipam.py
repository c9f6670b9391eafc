"""IP addresses: unique per network, released on terminate, reused, and a clear exhaustion error."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlmodel import select

from engine import ipam
from engine.clock import utcnow
from engine.context import Ctx, Principal
from engine.errors import Conflict
from tests.support.api import expect, instance, launch
from tests.support.engine import LocalEngine

TINY = ipaddress.IPv4Network("192.168.7.0/29")  # 8 addresses, 5 reserved: 3 to hand out
SYSTEM = Principal(
    user_id=0, username="system", role="admin", scopes=("*",), credential="test", credential_id=""
)


@contextmanager
def unit_of_work(local: LocalEngine) -> Iterator[Ctx]:
    with local.db.session(write=True) as session:
        yield Ctx(db=local.db, session=session, principal=SYSTEM, now=utcnow())


def _allocate(local: LocalEngine, resource_id: str) -> str:
    with unit_of_work(local) as ctx:
        return ipam.allocate(ctx, pool="tiny", network=TINY, resource_id=resource_id)


def test_a_pool_hands_out_each_usable_address_once_then_refuses(engine: LocalEngine) -> None:
    assert ipam.capacity(TINY) == 3
    got = [_allocate(engine, f"r-{n}") for n in range(3)]
    assert got == ["192.168.7.4", "192.168.7.5", "192.168.7.6"]
    with pytest.raises(Conflict) as refused:
        _allocate(engine, "r-3")
    assert refused.value.details == {"pool": "tiny", "cidr": "192.168.7.0/29", "capacity": 3}
    assert "no free IP address left in 192.168.7.0/29" in refused.value.message


def test_a_released_address_is_handed_out_again(engine: LocalEngine) -> None:
    for n in range(3):
        _allocate(engine, f"r-{n}")
    with unit_of_work(engine) as ctx:
        ipam.release(ctx, resource_id="r-1")
    assert _allocate(engine, "r-9") == "192.168.7.5"


def test_a_refused_allocation_rolls_back_with_its_unit_of_work(engine: LocalEngine) -> None:
    with pytest.raises(RuntimeError), unit_of_work(engine) as ctx:
        ipam.allocate(ctx, pool="tiny", network=TINY, resource_id="gone")
        raise RuntimeError("the mutation failed after allocating")
    assert _allocate(engine, "kept") == "192.168.7.4"


def test_instances_get_distinct_private_and_public_addresses(engine: LocalEngine) -> None:
    user = engine.user()
    made = [launch(user.client, f"n{n}") for n in range(12)]
    private = [ipaddress.IPv4Address(m["private_ip"]) for m in made]
    public = [ipaddress.IPv4Address(m["public_ip"]) for m in made]
    assert len(set(private)) == len(set(public)) == 12
    assert all(ip in ipaddress.IPv4Network("10.0.0.0/16") for ip in private)
    assert all(ip in ipaddress.IPv4Network("203.0.113.0/24") for ip in public)
    # Network, router, DNS and one more are held back at the start of every range.
    assert min(private) == ipaddress.IPv4Address("10.0.0.4")


def test_terminate_releases_the_instances_addresses(engine: LocalEngine) -> None:
    user = engine.user()
    iid = launch(user.client)["instance_id"]
    with unit_of_work(engine) as ctx:
        held = ctx.session.exec(
            select(ipam.IpAllocation).where(ipam.IpAllocation.resource_id == iid)
        ).all()
    assert {a.pool for a in held} == {f"default:{user.username}", "public"}
    expect(user.client.post(instance(iid, "terminate")), 200)
    with unit_of_work(engine) as ctx:
        assert (
            ctx.session.exec(
                select(ipam.IpAllocation).where(ipam.IpAllocation.resource_id == iid)
            ).all()
            == []
        )
