"""Compute tables and request bodies: flavors, images, instances; seeds the built-in catalog."""

from __future__ import annotations

from datetime import datetime, timedelta

from pydantic import Field as PydanticField
from pydantic import field_validator
from sqlalchemy import JSON, Index
from sqlalchemy.engine import Connection
from sqlmodel import Field, SQLModel

from engine.clock import utcnow
from engine.db import SEEDS
from engine.lifecycle import Lifecycle
from engine.resources import AVAILABILITY_ZONES, CommonInput, ResourceBase

OS_TYPES = ("linux", "windows", "custom")


class Flavor(SQLModel, table=True):
    __tablename__ = "flavors"
    id: int | None = Field(default=None, primary_key=True)
    flavor_id: str = Field(unique=True, max_length=64)
    name: str = Field(unique=True, max_length=64)
    vcpus: int
    memory_mb: int
    disk_gb: int
    network_bandwidth_gbps: float = 1.0
    gpu_count: int = 0
    gpu_type: str | None = None
    hourly_cost_usd: float
    is_active: bool = True
    is_gpu: bool = False
    created_at: datetime = Field(default_factory=utcnow)


class Image(ResourceBase, table=True):
    __tablename__ = "images"
    image_id: str = Field(unique=True, max_length=64)
    os_type: str = Field(default="linux", max_length=16)
    os_name: str = Field(default="", max_length=64)
    os_version: str = Field(default="", max_length=32)
    size_gb: int = 8
    is_public: bool = True
    is_active: bool = True


class Instance(ResourceBase, table=True):
    __tablename__ = "instances"
    __table_args__ = (
        Index("ix_instances_owner_created", "owner", "created_at"),
        Index("ix_instances_owner_status", "owner", "status"),
    )
    instance_id: str = Field(unique=True, max_length=32)
    status: str = Field(default="pending", max_length=16, index=True)
    status_due_at: datetime | None = Field(default=None, index=True)
    flavor: str = Field(max_length=64, index=True)
    flavor_name: str = Field(max_length=64)
    image: str = Field(max_length=64, index=True)
    image_name: str = Field(max_length=255)
    vcpus: int
    memory_mb: int
    vpc_id: str | None = None
    subnet_id: str | None = None
    availability_zone: str = Field(default="us-west-2a", max_length=16)
    private_ip: str | None = Field(default=None, max_length=45)
    public_ip: str | None = Field(default=None, max_length=45)
    security_groups: list[str] = Field(default_factory=list, sa_type=JSON)
    key_pair: str | None = None
    public_key: str | None = None
    root_volume_size_gb: int = 100
    attached_volumes: list[str] = Field(default_factory=list, sa_type=JSON)
    user_data: str | None = None
    enable_monitoring: bool = True
    enable_termination_protection: bool = False
    launch_time: datetime | None = None
    stop_time: datetime | None = None
    termination_time: datetime | None = Field(default=None, index=True)


INSTANCE_LIFECYCLE = Lifecycle(
    resource_type="instance",
    model=Instance,
    id_field="instance_id",
    completes_to={"pending": "running", "stopping": "stopped", "terminating": "terminated"},
    final_states=("terminated", "cancelled"),
    # Terminated instances stay visible for 30 days, then are removed (SPEC B3).
    retention=timedelta(days=30),
    counted_as="instances",
)


class ImageCreate(CommonInput):
    name: str
    os_type: str = "linux"
    os_name: str = ""
    os_version: str = ""
    size_gb: int = PydanticField(default=8, ge=1, le=16384)
    is_public: bool = True

    @field_validator("os_type")
    @classmethod
    def _os_type(cls, value: str) -> str:
        if value not in OS_TYPES:
            raise ValueError(f"must be one of {', '.join(OS_TYPES)}")
        return value


class ImageUpdate(CommonInput):
    is_public: bool | None = None
    is_active: bool | None = None


class InstanceCreate(CommonInput):
    name: str
    flavor: str
    image: str
    vpc_id: str | None = None
    subnet_id: str | None = None
    availability_zone: str | None = None
    security_groups: list[str] = []
    key_pair: str | None = None
    public_key: str | None = None
    root_volume_size_gb: int = PydanticField(default=100, ge=10, le=16384)
    user_data: str | None = PydanticField(default=None, max_length=16384)
    enable_monitoring: bool = True
    enable_termination_protection: bool = False

    @field_validator("availability_zone")
    @classmethod
    def _zone(cls, value: str | None) -> str | None:
        if value is not None and value not in AVAILABILITY_ZONES:
            raise ValueError(f"must be one of {', '.join(AVAILABILITY_ZONES)}")
        return value


class InstanceUpdate(CommonInput):
    security_groups: list[str] | None = None
    enable_monitoring: bool | None = None
    enable_termination_protection: bool | None = None


# The built-in catalog: the flavors priced in SPEC B6, and public images anyone can launch.
# (flavor_id, name, vcpus, memory_mb, disk_gb, bandwidth_gbps, gpu_count, gpu_type, hourly_usd)
FLAVOR_CATALOG = (
    ("t3-micro", "t3.micro", 2, 1024, 10, 1.0, 0, None, 0.0104),
    ("t3-small", "t3.small", 2, 2048, 20, 1.0, 0, None, 0.0208),
    ("t3-medium", "t3.medium", 2, 4096, 40, 1.0, 0, None, 0.0416),
    ("c5-large", "c5.large", 2, 4096, 50, 2.5, 0, None, 0.085),
    ("m5-large", "m5.large", 2, 8192, 50, 2.5, 0, None, 0.096),
    ("r5-large", "r5.large", 2, 16384, 50, 2.5, 0, None, 0.126),
    ("c5-xlarge", "c5.xlarge", 4, 8192, 100, 5.0, 0, None, 0.17),
    ("m5-xlarge", "m5.xlarge", 4, 16384, 100, 5.0, 0, None, 0.192),
    ("g4dn-xlarge", "g4dn.xlarge", 4, 16384, 125, 10.0, 1, "nvidia-t4", 0.526),
    ("r5-xlarge", "r5.xlarge", 4, 32768, 100, 5.0, 0, None, 0.252),
)
# (image_id, name, os_type, os_name, os_version, size_gb, description)
IMAGE_CATALOG = (
    ("ami-ubuntu2204", "ubuntu-22.04", "linux", "Ubuntu", "22.04", 8, "Ubuntu 22.04 LTS"),
    ("ami-ubuntu2404", "ubuntu-24.04", "linux", "Ubuntu", "24.04", 8, "Ubuntu 24.04 LTS"),
    ("ami-debian12", "debian-12", "linux", "Debian", "12", 8, "Debian 12 (bookworm)"),
    ("ami-amzn2023", "amazon-linux-2023", "linux", "Amazon Linux", "2023", 8, "Amazon Linux 2023"),
    ("ami-rocky9", "rocky-9", "linux", "Rocky Linux", "9", 10, "Rocky Linux 9"),
    (
        "ami-win2022",
        "windows-server-2022",
        "windows",
        "Windows Server",
        "2022",
        30,
        "Windows Server 2022 Datacenter",
    ),
)


def _seed_flavors(conn: Connection) -> None:
    conn.execute(
        Flavor.__table__.insert(),  # type: ignore[attr-defined]
        [
            {
                "flavor_id": f,
                "name": n,
                "vcpus": v,
                "memory_mb": m,
                "disk_gb": d,
                "network_bandwidth_gbps": bw,
                "gpu_count": g,
                "gpu_type": gt,
                "hourly_cost_usd": price,
                "is_active": True,
                "is_gpu": g > 0,
                "created_at": utcnow(),
            }
            for f, n, v, m, d, bw, g, gt, price in FLAVOR_CATALOG
        ],
    )


def _seed_images(conn: Connection) -> None:
    now = utcnow()
    conn.execute(
        Image.__table__.insert(),  # type: ignore[attr-defined]
        [
            {
                "image_id": i,
                "name": n,
                "os_type": t,
                "os_name": on,
                "os_version": ov,
                "size_gb": size,
                "description": desc,
                "is_public": True,
                "is_active": True,
                "owner": None,
                "region": "us-west-2",
                "tags": {},
                "meta": {},
                "created_at": now,
                "updated_at": now,
            }
            for i, n, t, on, ov, size, desc in IMAGE_CATALOG
        ],
    )


SEEDS["flavors"] = _seed_flavors
SEEDS["images"] = _seed_images
