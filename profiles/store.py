"""The config file: profiles and the default profile, as TOML in the config dir; no secrets."""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CONFIG_FILE = "config.toml"
DEFAULT_PROFILE = "default"
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


def config_dir() -> Path:
    override = os.environ.get("ATONIX_CONFIG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_config_dir

    return Path(user_config_dir("atonix", appauthor=False))


def data_dir() -> Path:
    override = os.environ.get("ATONIX_DATA_DIR")
    if override:
        return Path(override)
    from platformdirs import user_data_dir

    return Path(user_data_dir("atonix", appauthor=False))


@dataclass
class Profile:
    name: str
    endpoint: str | None = None  # None: the embedded engine
    data_dir: str | None = None  # embedded only; default <data dir>/profiles/<name>
    clock: str | None = None  # embedded only: real, instant or manual
    output: str | None = None
    timeout: float | None = None
    # Where this profile's secret is: "file", or "keyring:<backend class>" (plain "keyring" when
    # the backend is unknown). The file keeps the class apart, as `keyring_backend`.
    secret_store: str | None = None
    credential: str | None = None  # "api_key" or "token"

    @property
    def is_remote(self) -> bool:
        return self.endpoint is not None

    def engine_dir(self) -> Path:
        return Path(self.data_dir) if self.data_dir else data_dir() / "profiles" / self.name

    def as_table(self) -> dict[str, Any]:
        table = {k: v for k, v in asdict(self).items() if v is not None and k != "name"}
        store, _, backend = (self.secret_store or "").partition(":")
        if backend:
            table["secret_store"] = store
            table["keyring_backend"] = backend
        return table

    @classmethod
    def from_table(cls, name: str, body: dict[str, Any]) -> Profile:
        profile = cls(name=name, **{k: v for k, v in body.items() if k in _FIELDS})
        backend = body.get("keyring_backend")
        if profile.secret_store == "keyring" and isinstance(backend, str) and backend:
            profile.secret_store = f"keyring:{backend}"
        return profile


@dataclass
class Config:
    path: Path
    default_profile: str | None = None
    profiles: dict[str, Profile] = field(default_factory=dict)

    @classmethod
    def load(cls, directory: Path | None = None) -> Config:
        path = (directory or config_dir()) / CONFIG_FILE
        try:
            raw = tomllib.loads(path.read_text())
        except FileNotFoundError:
            return cls(path=path)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(f"cannot read {path}: {exc}") from None
        profiles = {
            name: Profile.from_table(name, body) for name, body in raw.get("profiles", {}).items()
        }
        return cls(path=path, default_profile=raw.get("default_profile"), profiles=profiles)

    def save(self) -> None:
        import tomli_w

        self.path.parent.mkdir(parents=True, exist_ok=True)
        body: dict[str, Any] = {}
        if self.default_profile:
            body["default_profile"] = self.default_profile
        body["profiles"] = {name: p.as_table() for name, p in sorted(self.profiles.items())}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(tomli_w.dumps(body))
        tmp.replace(self.path)


_FIELDS = {f for f in Profile.__dataclass_fields__ if f != "name"}


def valid_name(name: str) -> bool:
    return NAME_PATTERN.fullmatch(name) is not None
