"""Profile secrets: the OS keyring when there is one, else a 0600 file (warned about once)."""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import threading
import types
from pathlib import Path
from typing import Any

SERVICE = "atonix"
FILE_NAME = "credentials.json"
WARNED_MARKER = ".file-secrets-warned"
KEYRING = "keyring"

# Backends already loaded in this process, by fully-qualified class name.
_loaded: dict[str, Any] = {}

# What importing any backend drags in through `keyring.backend` but calls only later, if ever:
# the entry points of discovery (keyring's `metadata`), more_itertools inside jaraco.functools,
# subprocess inside jaraco.context. About half the cost of loading a remembered backend; each
# runs on first use instead (see _Deferred).
DEFERRED = (
    "importlib.metadata" if sys.version_info >= (3, 12) else "importlib_metadata",
    "more_itertools",
    "subprocess",
)
_deferring = threading.RLock()
_running: set[str] = set()


class _Deferred(types.ModuleType):
    """A module in sys.modules whose code runs on the first attribute it lacks.

    Unlike importlib.util.LazyLoader's modules, an `import` statement leaves it unrun (it reads
    only `__spec__`, which is set), so a module that merely imports it pays nothing; `from m
    import x` or `m.x` runs it in place, the same module object everyone holds."""

    def __getattr__(self, attr: str) -> Any:
        name = self.__name__
        with _deferring:
            # While its code runs, a missing attribute is missing (its own `from . import x`).
            if type(self) is _Deferred and name not in _running:
                _running.add(name)
                try:
                    self.__spec__.loader.exec_module(self)  # type: ignore[union-attr]
                except BaseException:
                    if sys.modules.get(name) is self:
                        del sys.modules[name]
                    raise
                finally:
                    _running.discard(name)
                self.__class__ = types.ModuleType  # type: ignore[assignment]
        return types.ModuleType.__getattribute__(self, attr)


def _defer(names: tuple[str, ...] = DEFERRED) -> None:
    """Put each module not imported yet in sys.modules as a _Deferred one."""
    import importlib.util

    for name in names:
        if name in sys.modules:
            continue
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            continue
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            continue
        module = importlib.util.module_from_spec(spec)
        module.__class__ = _Deferred
        sys.modules[name] = module
        parent, _, child = name.rpartition(".")
        if parent:
            setattr(sys.modules[parent], child, module)


def split_store(store: str | None) -> tuple[str | None, str | None]:
    """`"keyring:<backend class>"` -> `("keyring", "<backend class>")`; others have no backend."""
    if store and store.startswith(f"{KEYRING}:"):
        return KEYRING, store.partition(":")[2] or None
    return store, None


def _class_name(backend: Any) -> str:
    cls = type(backend)
    return f"{cls.__module__}.{cls.__qualname__}"


def _discovered() -> Any:
    """keyring's own choice: the config, PYTHON_KEYRING_BACKEND, or a scan of every backend.

    The scan imports each installed backend through its entry point (~140 ms with a real OS
    keyring), which is why a profile remembers the backend that took its secret."""
    import keyring

    return keyring.get_keyring()


def _concrete(backend: Any) -> Any:
    """The one backend that a write goes to: a chainer writes to its first, so name that one."""
    from keyring.backends.chainer import ChainerBackend

    if isinstance(backend, ChainerBackend) and backend.backends:
        return backend.backends[0]
    return backend


def _usable(backend: Any) -> bool:
    from keyring.backends import fail

    return not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 1) > 0


def _backend(name: str | None) -> Any:
    """The remembered backend class, imported and instantiated directly, skipping keyring's
    discovery; discovery when there is none or it cannot be loaded (uninstalled, not viable)."""
    if name is None:
        return _discovered()
    core = sys.modules.get("keyring.core")
    current = getattr(core, "_keyring_backend", None)
    if current is not None and _class_name(current) == name:
        # One already chosen in this process (by discovery, or by keyring.set_keyring): keep it.
        return current
    if name in _loaded:
        return _loaded[name]
    module_name, _, class_name = name.rpartition(".")
    _defer()
    try:
        cls = getattr(importlib.import_module(module_name), class_name)
        from keyring.backend import KeyringBackend

        if not (isinstance(cls, type) and issubclass(cls, KeyringBackend)):
            return _discovered()
        cls.priority  # noqa: B018 -- raises when the backend is not viable here
        backend = cls()
    except Exception:
        return _discovered()
    _loaded[name] = backend
    return backend


class SecretStore:
    """Reads and writes a profile secret (`api_key` or `token`) where the profile says it is."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.file = config_dir / FILE_NAME

    def choose(self) -> str:
        """Where a new secret goes: ATONIX_SECRET_STORE, else keyring if usable, else file.

        A keyring is `"keyring:<backend class>"`, the backend that will hold the secret, so
        that later reads load that class alone (the config file keeps it as `keyring_backend`).
        """
        forced = os.environ.get("ATONIX_SECRET_STORE")
        if forced == "file":
            return "file"
        backend = _concrete(_discovered())
        if _usable(backend):
            return f"{KEYRING}:{_class_name(backend)}"
        return KEYRING if forced == KEYRING else "file"

    def get(self, store: str | None, profile: str, name: str) -> str | None:
        kind, backend = split_store(store)
        if kind == KEYRING:
            secret: str | None = _backend(backend).get_password(SERVICE, f"{profile}:{name}")
            return secret
        return self._read().get(profile, {}).get(name)

    def set(self, store: str, profile: str, name: str, value: str) -> None:
        kind, backend = split_store(store)
        if kind == KEYRING:
            _backend(backend).set_password(SERVICE, f"{profile}:{name}", value)
            return
        self._warn_once()
        data = self._read()
        data.setdefault(profile, {})[name] = value
        self._write(data)

    def delete(self, store: str | None, profile: str, name: str) -> None:
        kind, backend = split_store(store)
        if kind == KEYRING:
            from keyring.errors import PasswordDeleteError

            with contextlib.suppress(PasswordDeleteError):
                _backend(backend).delete_password(SERVICE, f"{profile}:{name}")
            return
        data = self._read()
        if name in data.get(profile, {}):
            del data[profile][name]
            if not data[profile]:
                del data[profile]
            self._write(data)

    def describe(self, store: str | None) -> str:
        if split_store(store)[0] == KEYRING:
            return f"OS keyring (service {SERVICE!r})"
        return f"file {self.file} (mode 0600)"

    def _read(self) -> dict[str, dict[str, str]]:
        try:
            return dict(json.loads(self.file.read_text()))
        except FileNotFoundError:
            return {}

    def _write(self, data: dict[str, dict[str, str]]) -> None:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2)
        os.chmod(tmp, 0o600)
        tmp.replace(self.file)

    def _warn_once(self) -> None:
        marker = self.config_dir / WARNED_MARKER
        if marker.exists():
            return
        reason = (
            "ATONIX_SECRET_STORE=file"
            if os.environ.get("ATONIX_SECRET_STORE") == "file"
            else "no OS keyring available"
        )
        print(f"warning: {reason}; storing credentials in {self.file} (mode 0600)", file=sys.stderr)
        self.config_dir.mkdir(parents=True, exist_ok=True)
        marker.touch()
