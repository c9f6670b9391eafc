"""IP address management: allocating and releasing addresses of named pools, by CIDR arithmetic."""

from __future__ import annotations

import ipaddress

from sqlalchemy import BigInteger, UniqueConstraint, bindparam, case, delete, exists, func, select
from sqlmodel import Field, SQLModel, col

from engine import prepared
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
    address: int = Field(sa_type=BigInteger)  # an IPv4 address as a number: past int32
    resource_id: str = Field(index=True, max_length=64)


def capacity(network: ipaddress.IPv4Network) -> int:
    return max(network.num_addresses - RESERVED_HEAD - RESERVED_TAIL, 0)


def allocate(ctx: Ctx, *, pool: str, network: ipaddress.IPv4Network, resource_id: str) -> str:
    """The next free address of `network` in `pool` for `resource_id`; 409 when none is left.

    One statement reads the pool's cursor and whether the address there is taken, and only if it
    is, how many of the pool's addresses are. So the common case (addresses go out in order: the
    one at the cursor is free) takes it and moves the cursor on, three statements in all, and a
    full pool is refused after the one, without reading its addresses. Otherwise the pool is
    searched in windows from the cursor.
    """
    first = int(network.network_address) + RESERVED_HEAD
    size = capacity(network)
    if not size:
        raise _exhausted(pool, network, size)
    conn = ctx.conn  # the pool's tables are Core only
    whole = {"pool": pool, "low": first, "high": first + size - 1}
    state = prepared.run(conn, _STATE, {**whole, "first": first, "size": size}).first()
    if state is not None and not state.taken:
        return _take(ctx, pool, first, size, state.cursor % size, resource_id, known=True)
    used = state.used if state is not None else prepared.run(conn, _COUNT, whole).scalar_one()
    if used < size:
        cursor = state.cursor if state is not None else 0
        scanned = 0
        while scanned < size:
            offset = (cursor + scanned) % size
            span = min(_WINDOW, size - offset, size - scanned)
            low, high = first + offset, first + offset + span - 1
            taken = set(
                prepared.run(
                    conn, _WINDOW_TAKEN, {"pool": pool, "low": low, "high": high}
                ).scalars()
            )
            for address in range(low, high + 1):
                if address not in taken:
                    return _take(
                        ctx,
                        pool,
                        first,
                        size,
                        address - first,
                        resource_id,
                        known=state is not None,
                    )
            scanned += span
    raise _exhausted(pool, network, size)


def _exhausted(pool: str, network: ipaddress.IPv4Network, size: int) -> Conflict:
    return Conflict(
        f"no free IP address left in {network}",
        details={"pool": pool, "cidr": str(network), "capacity": size},
    )


def _take(
    ctx: Ctx, pool: str, first: int, size: int, offset: int, resource_id: str, *, known: bool
) -> str:
    """Record the address at `offset` as taken and move the pool's cursor past it."""
    address = first + offset
    cursor = (offset + 1) % size
    prepared.run(ctx.conn, _INSERT, {"pool": pool, "address": address, "resource_id": resource_id})
    prepared.run(ctx.conn, _MOVE if known else _CREATE, {"p_pool": pool, "p_cursor": cursor})
    return str(ipaddress.IPv4Address(address))


_pools = IpPool.__table__  # type: ignore[attr-defined]
_allocations = IpAllocation.__table__  # type: ignore[attr-defined]
_IN_RANGE = (
    _allocations.c.pool == bindparam("pool"),
    _allocations.c.address >= bindparam("low"),
    _allocations.c.address <= bindparam("high"),
)
# How many addresses of the pool's range are taken (an index range, not a table read).
_COUNT = select(func.count()).select_from(_allocations).where(*_IN_RANGE)
_WINDOW_TAKEN = select(_allocations.c.address).where(*_IN_RANGE)
# The pool's cursor; whether the address at it is taken; only if so, how many are (CASE evaluates
# the count lazily). Locks the pool row where the database can, as the cursor is about to move.
_AT_CURSOR = exists().where(
    _allocations.c.pool == _pools.c.pool,
    _allocations.c.address == bindparam("first") + _pools.c.cursor % bindparam("size"),
)
_STATE = (
    select(
        _pools.c.cursor,
        _AT_CURSOR.label("taken"),
        case((_AT_CURSOR, _COUNT.scalar_subquery())).label("used"),
    )
    .where(_pools.c.pool == bindparam("pool"))
    .with_for_update()
)
_INSERT = _allocations.insert()
_MOVE = (
    _pools.update().where(_pools.c.pool == bindparam("p_pool")).values(cursor=bindparam("p_cursor"))
)
_CREATE = _pools.insert().values(pool=bindparam("p_pool"), cursor=bindparam("p_cursor"))


def release(ctx: Ctx, *, resource_id: str) -> None:
    """Return every address held by a resource to its pool."""
    ctx.conn.execute(delete(IpAllocation).where(col(IpAllocation.resource_id) == resource_id))
