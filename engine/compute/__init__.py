"""Compute: flavors, images and instances (later: Kubernetes, functions, auto-scaling)."""

# This service's collection modules, each declaring one collection (see engine.collection).
COLLECTIONS = ("flavors", "images", "instances")
