"""The CLI's committed catalog is what the engine's collection declarations generate."""

from __future__ import annotations

from atonix_cli.catalog import CATALOG
from engine import catalog, registry


def test_the_committed_catalog_is_current() -> None:
    committed = catalog.TARGET.read_text()
    assert committed == catalog.render(), "stale: run python -m engine.catalog"


def test_the_catalog_names_every_declared_collection_with_its_states() -> None:
    declared = {c.name: c for c in registry.every()}
    assert set(CATALOG) == set(declared)
    instances = CATALOG["instances"]
    assert (instances.id_prefix, instances.final) == ("i", ("terminated", "cancelled"))
    assert instances.transitions["pending"] == "running"
    assert instances.actions["stop"] == "Stopping"
