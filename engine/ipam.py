"""IP address management: allocating and releasing addresses of named pools, by CIDR arithmetic."""

from __future__ import annotations

import ipaddress

from sqlalchemy import UniqueConstraint, delete
from sqlmodel import Field, SQLModel, col, select

from engine.context import Ctx
from engine.errors import Conflict

# Addresses held back in every pool, as a cloud does in a subnet: network, router, DNS, reserved,
# and broadcast. So a /24 offers 251 addresses (SPEC B3: 2^(32-prefix) - 5).
RESERVED_HEAD = 4
RESERVED_TAIL = 1
_WINDOW = 256


class IpPool(SQLModel, table=True):
    """Where the next search for a free address starts, so allocation stays O(1) as pools fill."""

    __tablename__ = "ip_pools"
    pool: str = Field(primary_key=True, max_length=128)
    cursor: int = 0


class IpAllocation(SQLModel, table=True):
    __tablename__ = "ip_allocations"
    __table_args__ = (UniqueConstraint("pool", "address"),)
    id: int | None = Field(default=None, primary_key=True)
    pool: str = Field(max_length=128)
    address: int
    resource_id: str = Field(index=True, max_length=64)


def capacity(network: ipaddress.IPv4Network) -> int:
    return max(network.num_addresses - RESERVED_HEAD - RESERVED_TAIL, 0)


def allocate(ctx: Ctx, *, pool: str, network: ipaddress.IPv4Network, resource_id: str) -> str:
    """The next free address of `network` in `pool` for `resource_id`; 409 when none is left."""
    first = int(network.network_address) + RESERVED_HEAD
    size = capacity(network)
    state = ctx.session.exec(
        select(IpPool).where(IpPool.pool == pool).with_for_update()
    ).first() or IpPool(pool=pool, cursor=0)
    scanned = 0
    while scanned < size:
        offset = (state.cursor + scanned) % size
        span = min(_WINDOW, size - offset, size - scanned)
        low, high = first + offset, first + offset + span - 1
        taken = set(
            ctx.session.exec(
                select(IpAllocation.address).where(
                    IpAllocation.pool == pool,
                    col(IpAllocation.address) >= low,
                    col(IpAllocation.address) <= high,
                )
            )
        )
        for address in range(low, high + 1):
            if address not in taken:
                state.cursor = (address - first + 1) % size
                ctx.session.add(state)
                ctx.session.add(IpAllocation(pool=pool, address=address, resource_id=resource_id))
                return str(ipaddress.IPv4Address(address))
        scanned += span
    raise Conflict(
        f"no free IP address left in {network}",
        details={"pool": pool, "cidr": str(network), "capacity": size},
    )


def release(ctx: Ctx, *, resource_id: str) -> None:
    """Return every address held by a resource to its pool."""
    ctx.session.execute(delete(IpAllocation).where(col(IpAllocation.resource_id) == resource_id))
