"""Profile secrets: the OS keyring when there is one, else a 0600 file (warned about once)."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from pathlib import Path

SERVICE = "atonix"
FILE_NAME = "credentials.json"
WARNED_MARKER = ".file-secrets-warned"


def _keyring_usable() -> bool:
    import keyring
    from keyring.backends import fail

    backend = keyring.get_keyring()
    return not isinstance(backend, fail.Keyring) and getattr(backend, "priority", 1) > 0


class SecretStore:
    """Reads and writes a profile secret (`api_key` or `token`) where the profile says it is."""

    def __init__(self, config_dir: Path) -> None:
        self.config_dir = config_dir
        self.file = config_dir / FILE_NAME

    def choose(self) -> str:
        """Where a new secret goes: ATONIX_SECRET_STORE, else keyring if usable, else file."""
        forced = os.environ.get("ATONIX_SECRET_STORE")
        if forced in ("keyring", "file"):
            return forced
        return "keyring" if _keyring_usable() else "file"

    def get(self, store: str | None, profile: str, name: str) -> str | None:
        if store == "keyring":
            import keyring

            return keyring.get_password(SERVICE, f"{profile}:{name}")
        return self._read().get(profile, {}).get(name)

    def set(self, store: str, profile: str, name: str, value: str) -> None:
        if store == "keyring":
            import keyring

            keyring.set_password(SERVICE, f"{profile}:{name}", value)
            return
        self._warn_once()
        data = self._read()
        data.setdefault(profile, {})[name] = value
        self._write(data)

    def delete(self, store: str | None, profile: str, name: str) -> None:
        if store == "keyring":
            import keyring
            from keyring.errors import PasswordDeleteError

            with contextlib.suppress(PasswordDeleteError):
                keyring.delete_password(SERVICE, f"{profile}:{name}")
            return
        data = self._read()
        if name in data.get(profile, {}):
            del data[profile][name]
            if not data[profile]:
                del data[profile]
            self._write(data)

    def describe(self, store: str | None) -> str:
        if store == "keyring":
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
