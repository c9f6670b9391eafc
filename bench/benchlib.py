"""Shared helpers of the benchmarks: timing, isolated environments, the engine in-process and
over HTTP, and fast seeding. Not a test module; the scripts in this directory import it."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ATONIX = str(Path(sys.executable).parent / "atonix")
INSTANCES = "/api/v1/services/instances/"
QUOTA_TYPES = ("instances", "vcpus", "memory_gb")
CREATE_BODY = {"flavor": "t3.micro", "image": "ubuntu-22.04"}


# --- timing -----------------------------------------------------------------------------------


@dataclass
class Timing:
    label: str
    samples: list[float]  # seconds

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def min(self) -> float:
        return min(self.samples)

    @property
    def max(self) -> float:
        return max(self.samples)

    def line(self, target_ms: float | None = None) -> str:
        verdict = ""
        if target_ms is not None:
            ok = self.median * 1e3 <= target_ms
            verdict = f"  target <= {target_ms:.0f} ms: {'ok' if ok else 'MISSED'}"
        return (
            f"{self.label:<52} median {self.median * 1e3:7.1f} ms   min {self.min * 1e3:7.1f} ms"
            f"   max {self.max * 1e3:7.1f} ms   (n={len(self.samples)}){verdict}"
        )


def time_command(
    label: str,
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    runs: int = 15,
    warmups: int = 2,
    check: bool = True,
) -> Timing:
    """Wall time of a whole process, like hyperfine: warm-ups first, then `runs` timed runs."""
    samples = []
    for i in range(warmups + runs):
        started = time.perf_counter()
        done = subprocess.run(
            list(argv),
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        elapsed = time.perf_counter() - started
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr!r}")
        if i >= warmups:
            samples.append(elapsed)
    return Timing(label, samples)


def time_calls(label: str, call: Callable[[], Any], *, runs: int = 15, warmups: int = 2) -> Timing:
    samples = []
    for i in range(warmups + runs):
        started = time.perf_counter()
        call()
        elapsed = time.perf_counter() - started
        if i >= warmups:
            samples.append(elapsed)
    return Timing(label, samples)


def isolated_env(root: Path, **extra: str) -> dict[str, str]:
    """An environment whose config, data and secrets live under `root`, never the user's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATONIX_", "_ATONIX_"))}
    env.update(
        ATONIX_CONFIG_DIR=str(root / "config"),
        ATONIX_DATA_DIR=str(root / "data"),
        ATONIX_SECRET_STORE="file",  # never the developer's OS keyring
        ATONIX_CLOCK="instant",
        NO_COLOR="1",
    )
    env.update(extra)
    return env


@contextmanager
def scratch(prefix: str) -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix=f"atonix-bench-{prefix}-") as name:
        yield Path(name)


def say(line: str = "") -> None:
    print(line, flush=True)


# --- clients ----------------------------------------------------------------------------------


class ApiError(RuntimeError):
    pass


class Client:
    """Just enough of an API client for the benchmarks; `send` is the transport."""

    authorization: str | None = None

    def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, bytes]:
        raise NotImplementedError

    def call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        idempotency_key: str | None = None,
        expect: int | None = None,
    ) -> Any:
        headers = {"Accept": "application/json", "User-Agent": "atonix-bench"}
        if self.authorization:
            headers["Authorization"] = self.authorization
        payload = b""
        if body is not None:
            payload = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        status, content = self.send(method, path, params or {}, headers, payload)
        if status >= 400 or (expect is not None and status != expect):
            raise ApiError(f"{method} {path} -> {status}: {content[:300]!r}")
        return json.loads(content) if content else None

    def create_instance(self, name: str, *, idempotency_key: str | None = None) -> Any:
        return self.call(
            "POST",
            INSTANCES,
            body={"name": name, **CREATE_BODY},
            idempotency_key=idempotency_key,
            expect=201,
        )

    def list_page(self, page: int = 1, page_size: int = 20) -> Any:
        return self.call("GET", INSTANCES, params={"page": page, "page_size": page_size})

    def raise_quotas(self, owner: str, limit: int) -> None:
        for resource_type in QUOTA_TYPES:
            self.call(
                "PUT", f"/api/v1/quotas/{resource_type}/", body={"owner": owner, "limit": limit}
            )

    def create_user(self, username: str, password: str, role: str = "developer") -> None:
        self.call(
            "POST",
            "/api/v1/users/",
            body={"username": username, "password": password, "role": role},
            expect=201,
        )

    def login(self, username: str, password: str) -> str:
        answer = self.call(
            "POST", "/api/v1/auth/login/", body={"username": username, "password": password}
        )
        return f"Bearer {answer['token']}"

    def close(self) -> None:
        pass


class InProcess(Client):
    """The engine in this process, reached through its WSGI app as the CLI's LocalTransport does."""

    def __init__(self, data_dir: Path, *, clock: str = "instant") -> None:
        from engine.api.app import EngineApp
        from engine.clock import Clock
        from engine.db import Database, sqlite_url
        from engine.identity.service import bootstrap_admin

        data_dir.mkdir(parents=True, exist_ok=True)
        self.db = Database(sqlite_url(data_dir / "atonix.db"), clock=Clock(mode=clock))  # type: ignore[arg-type]
        self.app = EngineApp(self.db)
        created = bootstrap_admin(self.db)
        self.admin_api_key = created.api_key if created else None
        if self.admin_api_key:
            self.authorization = f"ApiKey {self.admin_api_key}"

    def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, bytes]:
        from atonix_cli.local import call_wsgi

        reply = call_wsgi(self.app, method, path, params=params, headers=headers, body=body)
        return reply.status, reply.body

    def as_user(self, authorization: str) -> InProcess:
        other = object.__new__(InProcess)
        other.db, other.app, other.admin_api_key = self.db, self.app, None
        other.authorization = authorization
        return other

    def close(self) -> None:
        self.db.dispose()


class Http(Client):
    def __init__(self, url: str, authorization: str | None) -> None:
        import httpx

        self.url = url
        self.authorization = authorization
        self._client = httpx.Client(base_url=url, timeout=60)

    def send(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        headers: dict[str, str],
        body: bytes,
    ) -> tuple[int, bytes]:
        reply = self._client.request(
            method, path, params=dict(params), headers=headers, content=body or None
        )
        return reply.status_code, reply.content

    def as_user(self, authorization: str) -> Http:
        return Http(self.url, authorization)

    def close(self) -> None:
        self._client.close()


# --- the server -------------------------------------------------------------------------------


class Server:
    """`python -m engine.server` on a free port with its data in `data_dir`, started by the
    tests' own launcher (tests/support/server.py)."""

    def __init__(
        self,
        data_dir: Path,
        *,
        clock: str = "instant",
        admin_api_key: str | None = None,
        workers: int = 1,
        database_url: str | None = None,
    ) -> None:
        """`admin_api_key`: for a database whose admin exists already (no credentials file);
        `database_url`: another database than SQLite in `data_dir`."""
        if str(REPO) not in sys.path:
            sys.path.insert(0, str(REPO))
        from tests.support.server import start_server

        self._running = start_server(
            data_dir,
            clock=clock,
            data_dir=data_dir,
            admin_api_key=admin_api_key,
            workers=workers,
            database_url=database_url,
        )
        self.url: str = self._running.url
        self.admin_api_key: str = self._running.admin_api_key
        self.data_dir: Path = self._running.data_dir

    def client(self) -> Http:
        return Http(self.url, f"ApiKey {self.admin_api_key}")

    def stop(self) -> None:
        self._running.stop()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()


# --- fast seeding -----------------------------------------------------------------------------


def seed_instances(
    db: Any, username: str, count: int, *, batch: int = 2000, prefix: str = "seed"
) -> None:
    """Create `count` instances owned by `username` by calling the engine's service function
    (quotas, IPAM, lifecycle and audit included) in one transaction per `batch`, without the
    HTTP layer. The user must exist and have quotas large enough."""
    from sqlmodel import select

    from engine import audit
    from engine.compute.instances import InstanceCreate, create_instance
    from engine.context import Ctx, Principal
    from engine.identity.models import User

    done = 0
    while done < count:
        with db.session(write=True) as session:
            user = session.exec(select(User).where(User.username == username)).one()
            principal = Principal(
                user_id=user.id,
                username=user.username,
                role=user.role,
                scopes=("*",),
                credential="bench",
                credential_id="",
            )
            ctx = Ctx(
                db=db,
                session=session,
                principal=principal,
                now=db.now(session),
                request_id="bench-seed",
            )
            for i in range(done, min(done + batch, count)):
                ctx.now = db.now(session)  # distinct creation times, as one-by-one creates get
                spec = InstanceCreate(
                    name=f"{prefix}-{username}-{i}",
                    flavor=CREATE_BODY["flavor"],
                    image=CREATE_BODY["image"],
                )
                ctx.audit_details = {}
                created = create_instance(ctx, spec)
                # As the dispatcher audits a create through the API.
                audit.record(
                    ctx,
                    action="create",
                    resource_type="instance",
                    resource_id=created.instance_id,
                    resource_name=created.name,
                    details=ctx.audit_details,
                )
                if i % 500 == 499:
                    session.flush()
        done = min(done + batch, count)


def bulk_instances(db: Any, owner: str, count: int, *, batch: int = 10_000) -> None:
    """Insert `count` running t3.micro instances of `owner` straight into the tables with Core
    executemany, `batch` rows per transaction: the instance rows and their count, private IPs in the
    owner's pool (and the pool's cursor) and the owner's quota usage, as the engine would leave
    them, but without audit records or public IPs. For volumes the API cannot reach quickly.
    Addresses continue from the pool's cursor, which API creates leave at the next free one."""
    import ipaddress
    from datetime import timedelta

    from sqlalchemy import update

    from engine import counts
    from engine.clock import utcnow
    from engine.compute.instances import DEFAULT_PRIVATE_NETWORK, Instance
    from engine.ids import new_id
    from engine.ipam import RESERVED_HEAD, IpAllocation, IpPool, capacity
    from engine.quotas import QuotaUsage

    db.ensure_tables()
    pool = f"default:{owner}"
    with db.session(write=False) as session:
        state = session.get(IpPool, pool)
        offset = state.cursor if state else 0
    if offset + count > capacity(DEFAULT_PRIVATE_NETWORK):
        raise ValueError(f"{owner}: {count} more instances do not fit in its private pool")
    first = int(DEFAULT_PRIVATE_NETWORK.network_address) + RESERVED_HEAD + offset
    start = utcnow() - timedelta(seconds=count)  # one creation a millisecond up to now
    instances, allocations = Instance.__table__, IpAllocation.__table__  # type: ignore[attr-defined]
    done = 0
    while done < count:
        rows, ips = [], []
        for i in range(done, min(done + batch, count)):
            when = start + timedelta(milliseconds=i)
            instance_id = new_id("i")
            address = first + i
            rows.append(
                {
                    "instance_id": instance_id,
                    "name": f"bulk-{owner}-{i}",
                    "description": "",
                    "owner": owner,
                    "region": "us-west-2",
                    "tags": {},
                    "meta": {},
                    "created_at": when,
                    "updated_at": when,
                    "status": "running",
                    "status_due_at": None,
                    "flavor": "t3-micro",
                    "flavor_name": "t3.micro",
                    "image": "ami-ubuntu2204",
                    "image_name": "ubuntu-22.04",
                    "vcpus": 2,
                    "memory_mb": 1024,
                    "availability_zone": "us-west-2a",
                    "private_ip": str(ipaddress.IPv4Address(address)),
                    "public_ip": None,
                    "security_groups": [],
                    "root_volume_size_gb": 100,
                    "attached_volumes": [],
                    "enable_monitoring": True,
                    "enable_termination_protection": False,
                    "launch_time": when,
                }
            )
            ips.append({"pool": pool, "address": address, "resource_id": instance_id})
        with db.writing() as conn:
            conn.execute(instances.insert(), rows)
            conn.execute(allocations.insert(), ips)
        done += len(rows)
    with db.session(write=True) as session:
        session.merge(IpPool(pool=pool, cursor=offset + count))
        counts.add(session, collection="instances", owner=owner, delta=count)
        for resource_type, amount in (("instances", 1), ("vcpus", 2), ("memory_gb", 1)):
            session.execute(
                update(QuotaUsage)
                .where(QuotaUsage.owner == owner, QuotaUsage.resource_type == resource_type)  # type: ignore[arg-type]
                .values(used=QuotaUsage.used + amount * count)
            )


def machine_note(*, end: bool = False) -> str:
    """The load average, printed with the results: other work on the machine skews them."""
    one, five, _ = os.getloadavg()
    note = f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} CPUs"
    if end:
        note += " (including this benchmark's own)"
    elif one > 0.5:
        note += "  -- the machine is busy: figures will be slower and noisier than on an idle one"
    return note
