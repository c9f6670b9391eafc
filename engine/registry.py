"""Where collections are found: each service's `COLLECTIONS`, each imported only when touched."""

from __future__ import annotations

import functools
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.collection import Collection

# The services, each a package whose `COLLECTIONS` names its collection modules.
SERVICES = ("engine.compute", "engine.storage", "engine.networking")


@functools.cache
def modules() -> dict[str, str]:
    """Collection name -> module: `engine.compute.instances` serves `instances`, and a module
    `kubernetes_clusters` the collection `kubernetes-clusters`. Reads only the light service
    packages, never a collection's own module."""
    found: dict[str, str] = {}
    for service in SERVICES:
        for module in importlib.import_module(service).COLLECTIONS:
            found[module.replace("_", "-")] = f"{service}.{module}"
    return found


_loaded: dict[str, Collection] = {}


def get(name: str) -> Collection:
    """The declaration of one collection, importing its module on first use (KeyError if none)."""
    found = _loaded.get(name)
    if found is None:
        module = importlib.import_module(modules()[name])
        declared = [c for c in vars(module).values() if _is_collection(c) and c.name == name]
        if len(declared) != 1:
            raise LookupError(f"{module.__name__} must declare one Collection named {name!r}")
        found = _loaded[name] = declared[0]
    return found


def every() -> list[Collection]:
    """Every collection, importing them all: for the OpenAPI document, the catalog, a reset."""
    return [get(name) for name in modules()]


def add(module: str) -> None:
    """Serve one more collection module (the benchmark's synthetic collections)."""
    modules()[module.rsplit(".", 1)[-1].replace("_", "-")] = module


def _is_collection(value: object) -> bool:
    from engine.collection import Collection

    return isinstance(value, Collection)
