"""Compute: flavors, images and instances (later: Kubernetes, functions, auto-scaling)."""
