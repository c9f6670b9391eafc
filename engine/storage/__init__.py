"""Storage: buckets, objects with real bytes, encryption keys (later: volumes, shares, backups)."""

# This service's collection modules, each declaring one collection (see engine.collection).
COLLECTIONS: tuple[str, ...] = ("buckets", "s3_objects", "encryption_keys")
