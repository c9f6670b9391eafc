"""Images: built-in public images, plus each user's own (public ones are read-only to others)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, bindparam, or_
from sqlalchemy import select as sa_select
from sqlmodel import col, func, select

from engine import audit
from engine.compute.models import Image, ImageCreate, ImageUpdate, Instance
from engine.context import Ctx
from engine.errors import DependencyViolation, ValidationFailed, field_error
from engine.ids import new_id
from engine.resources import ResourceKind, apply_common, common_public, parse_bool

LIVE_INSTANCE_STATES = ("pending", "running", "stopping", "stopped", "terminating")


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
    row = ctx.session.execute(_BY_ID, {"image_id": image_id}).first()
    return public(row) if row is not None else None  # type: ignore[arg-type]  # same attributes


_images = Image.__table__  # type: ignore[attr-defined]
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
        found = ctx.session.execute(_LAUNCHABLE_ANY, {"ref": ref})
    else:
        found = ctx.session.execute(_LAUNCHABLE, {"ref": ref, "me": ctx.principal.username})
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
    return image


def create_image(ctx: Ctx, spec: ImageCreate) -> Image:
    image = Image(
        image_id=new_id("ami"),
        owner=ctx.principal.username,
        os_type=spec.os_type,
        os_name=spec.os_name,
        os_version=spec.os_version,
        size_gb=spec.size_gb,
        is_public=spec.is_public,
        created_at=ctx.now,
    )
    apply_common(image, spec, now=ctx.now)
    ctx.session.add(image)
    audit.record(
        ctx,
        action="create",
        resource_type="image",
        resource_id=image.image_id,
        resource_name=image.name,
    )
    return image


def update_image(ctx: Ctx, image: Image, spec: ImageUpdate) -> Image:
    apply_common(image, spec, now=ctx.now)
    if spec.is_public is not None:
        image.is_public = spec.is_public
    if spec.is_active is not None:
        image.is_active = spec.is_active
    ctx.session.add(image)
    audit.record(
        ctx,
        action="update",
        resource_type="image",
        resource_id=image.image_id,
        resource_name=image.name,
        details=spec.model_dump(exclude_none=True),
    )
    return image


def delete_image(ctx: Ctx, image: Image, *, force: bool = False) -> int:
    in_use = ctx.session.exec(
        select(func.count())
        .select_from(Instance)
        .where(Instance.image == image.image_id, col(Instance.status).in_(LIVE_INSTANCE_STATES))
    ).one()
    if in_use:
        raise DependencyViolation(
            f"image {image.image_id} is used by {in_use} instance(s); terminate them first",
            details={"instances": in_use},
        )
    ctx.session.delete(image)
    audit.record(
        ctx,
        action="delete",
        resource_type="image",
        resource_id=image.image_id,
        resource_name=image.name,
    )
    return 204


IMAGES = ResourceKind(
    resource_type="image",
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
)
