"""Images: built-in public images, plus each user's own (public ones are read-only to others)."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field as PydanticField
from sqlalchemy import Row, bindparam, or_
from sqlalchemy import select as sa_select
from sqlalchemy.engine import Connection
from sqlmodel import Field, col

from engine import prepared
from engine.api.http import Request
from engine.clock import utcnow
from engine.collection import Action, Collection, Dependent
from engine.context import Ctx
from engine.db import SEEDS
from engine.errors import ValidationFailed, field_error
from engine.resources import (
    CommonInput,
    Name,
    OneOf,
    ResourceBase,
    apply_common,
    common_public,
    list_page,
    parse_bool,
)

OS_TYPES = ("linux", "windows", "custom")


class Image(ResourceBase, table=True):
    __tablename__ = "images"
    image_id: str = Field(unique=True, max_length=64)
    os_type: str = Field(default="linux", max_length=16)
    os_name: str = Field(default="", max_length=64)
    os_version: str = Field(default="", max_length=32)
    size_gb: int = 8
    is_public: bool = True
    is_active: bool = True


class ImageCreate(CommonInput):
    name: Name
    os_type: Annotated[str, OneOf(OS_TYPES)] = "linux"
    os_name: str = PydanticField(default="", max_length=64)
    os_version: str = PydanticField(default="", max_length=32)
    size_gb: int = PydanticField(default=8, ge=1, le=16384)
    is_public: bool = True


class ImageUpdate(CommonInput):
    is_public: bool | None = None
    is_active: bool | None = None


# The built-in public images anyone can launch.
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


SEEDS["images"] = _seed_images


def public(image: Image) -> dict[str, Any]:
    return {
        **common_public(image, "image_id"),
        "os_type": image.os_type,
        "os_name": image.os_name,
        "os_version": image.os_version,
        "size_gb": image.size_gb,
        "is_public": image.is_public,
        "is_active": image.is_active,
    }


def details(ctx: Ctx, image_id: str) -> dict[str, Any] | None:
    """The public form of an image by id, as an instance's `image_details`; None if it is gone."""
    row = ctx.session.info.get((_LOOKED_UP, image_id))
    if row is None:
        row = ctx.session.execute(_BY_ID, {"image_id": image_id}).first()
    return public(row) if row is not None else None  # type: ignore[arg-type]  # same attributes


_images = Image.__table__  # type: ignore[attr-defined]
_LOOKED_UP = "images.find_launchable"  # the key of the image a unit of work looked up
_BY_ID = sa_select(_images).where(_images.c.image_id == bindparam("image_id")).limit(1)
# An image by id or name, of all (an admin's view) or of those `_visible` lets a user see.
_LAUNCHABLE_ANY = (
    sa_select(_images)
    .where(or_(_images.c.image_id == bindparam("ref"), _images.c.name == bindparam("ref")))
    .limit(10)
)
_LAUNCHABLE = _LAUNCHABLE_ANY.where(
    or_(_images.c.is_public.is_(True), _images.c.owner == bindparam("me"))
)


def _visible(ctx: Ctx, model: Any) -> list[Any]:
    if ctx.sees_everything():
        return []
    return [or_(col(model.is_public).is_(True), col(model.owner) == ctx.principal.username)]


def _writable(ctx: Ctx, image: Image) -> bool:
    # Built-in images belong to the platform: nobody edits them, admins included.
    return image.owner is not None and (
        ctx.sees_everything() or image.owner == ctx.principal.username
    )


def find_launchable(ctx: Ctx, ref: str) -> Row[Any]:
    """A visible, active image by id or unique name; one's own image wins a name tie.

    A read-only row of the image's columns (`image_id`, `name`, ...), not a session object:
    launching only reads it, and every launch looks one up.
    """
    if ctx.sees_everything():
        found = prepared.run(ctx.conn, _LAUNCHABLE_ANY, {"ref": ref})
    else:
        found = prepared.run(ctx.conn, _LAUNCHABLE, {"ref": ref, "me": ctx.principal.username})
    matches = found.all()
    by_id = [m for m in matches if m.image_id == ref]
    if len(matches) > 1 and not by_id:
        own = [m for m in matches if m.owner == ctx.principal.username]
        if len(own) != 1:
            raise ValidationFailed(
                f"image: {len(matches)} images are named {ref!r}; use an image id",
                details={"image": [m.image_id for m in matches]},
            )
        matches = own
    image = (by_id or matches)[0] if by_id or matches else None
    if image is None or not image.is_active:
        raise field_error("image", f"no active image {ref!r}; see `atonix image list`")
    # Kept for this unit of work: a launch shows the image in its answer (`image_details`), and
    # nothing a launch does changes it.
    ctx.session.info[(_LOOKED_UP, image.image_id)] = image
    return image


def create_image(ctx: Ctx, spec: ImageCreate) -> Image:
    image = Image(
        image_id=IMAGES.new_id(),
        owner=ctx.principal.username,
        os_type=spec.os_type,
        os_name=spec.os_name,
        os_version=spec.os_version,
        size_gb=spec.size_gb,
        is_public=spec.is_public,
        created_at=ctx.now,
    )
    apply_common(image, spec, now=ctx.now)
    IMAGES.added(ctx, image)
    return image


def update_image(ctx: Ctx, image: Image, spec: ImageUpdate) -> Image:
    apply_common(image, spec, now=ctx.now)
    if spec.is_public is not None:
        image.is_public = spec.is_public
    if spec.is_active is not None:
        image.is_active = spec.is_active
    ctx.session.add(image)
    ctx.audit_details.update(spec.model_dump(exclude_none=True))
    return image


def delete_image(ctx: Ctx, image: Image, *, force: bool = False) -> int:
    # Live instances launched from it refuse the delete first (IMAGES.dependents).
    ctx.session.delete(image)
    return 204


def public_images(request: Request) -> dict[str, Any]:
    return list_page(
        request.ctx,
        IMAGES,
        request.query,
        path=request.path,
        where=[col(Image.is_public).is_(True)],
    )


def my_images(request: Request) -> dict[str, Any]:
    mine = col(Image.owner) == request.ctx.principal.username
    return list_page(request.ctx, IMAGES, request.query, path=request.path, where=[mine])


IMAGES = Collection(
    service="compute",
    name="images",
    label="image",
    id_prefix="ami",
    model=Image,
    id_field="image_id",
    public=public,
    filters={"owner": str, "os_type": str, "is_public": parse_bool},
    search=("name", "os_name", "image_id"),
    ordering=("created_at", "name", "size_gb"),
    default_ordering="created_at",
    visible=_visible,
    writable=_writable,
    create_schema=ImageCreate,
    create=create_image,
    update_schema=ImageUpdate,
    update=update_image,
    delete=delete_image,
    dependents=(Dependent(collection="instances", column="image"),),
    actions=(
        Action("public", public_images, "GET", detail=False, summary="List public images"),
        Action("my_images", my_images, "GET", detail=False, summary="List your own images"),
    ),
)
