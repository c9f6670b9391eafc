"""A profile remembers the keyring backend that took its secret, and reads load that one alone."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tests.cli.runner import Cli

REPO = Path(__file__).resolve().parents[2]
MEMORY = "tests.cli.keyring_memory.MemoryKeyring"
PLAINTEXT = "keyrings.alt.file.PlaintextKeyring"

# Run in a fresh interpreter: read the team profile's secret as the CLI does, then report which
# keyring modules got imported, whether keyring ever chose a backend or scanned entry points,
# and which of the modules that a read defers have run.
READ_SECRET = """
import json, sys, types
from pathlib import Path
from profiles.secrets import DEFERRED, SecretStore
from profiles.store import Config

directory = Path(sys.argv[1])
profile = Config.load(directory).profiles["team"]
secret = SecretStore(directory).get(profile.secret_store, "team", "api_key")
import keyring.backend, keyring.core
print(json.dumps({
    "secret": secret,
    "modules": sorted(m for m in sys.modules if m.startswith(("keyring.backends", "keyrings"))),
    "chosen": keyring.core._keyring_backend is not None,
    "scanned": hasattr(keyring.backend.get_all_keyring, "saved_result"),
    "ran": sorted(m for m in DEFERRED if type(sys.modules.get(m)) is types.ModuleType),
}))
"""


def _raw_profile(cli: Cli, name: str) -> dict[str, object]:
    raw = tomllib.loads((cli.config_dir / "config.toml").read_text())
    profile: dict[str, object] = raw["profiles"][name]
    return profile


def test_the_backend_that_took_the_secret_is_remembered(embedded: Cli) -> None:
    embedded.ok("profile", "create", "team", "--endpoint", "http://127.0.0.1:9", "--api-key", "k1")
    raw = _raw_profile(embedded, "team")
    assert (raw["secret_store"], raw["keyring_backend"]) == ("keyring", MEMORY)
    assert embedded.config().profiles["team"].secret_store == f"keyring:{MEMORY}"
    assert embedded.secret("api_key", profile="team") == "k1"

    embedded.ok("profile", "delete", "team", "--yes")
    assert embedded.secret("api_key", profile="team") is None


def test_a_backend_that_cannot_be_loaded_falls_back_to_discovery(embedded: Cli) -> None:
    embedded.ok("whoami")
    path = embedded.config_dir / "config.toml"
    text = path.read_text()
    assert f'keyring_backend = "{MEMORY}"' in text
    path.write_text(text.replace(MEMORY, "no_such_package.Keyring"))
    assert embedded.json("whoami")["username"] == "admin"


@pytest.fixture(scope="session")
def keyrings_alt(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding keyrings.alt from PyPI, kept in pytest's cache between runs (in a
    temporary directory when the cache is off: `-p no:cacheprovider`)."""
    cache = getattr(pytestconfig, "cache", None)
    home = cache.mkdir("keyrings-alt") if cache is not None else tmp_path_factory.mktemp("kr")
    target = home / "site"
    if (target / "keyrings" / "alt" / "file.py").exists():
        return target
    staging = target.with_name(f"staging-{os.getpid()}")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
         "--no-deps", "--target", str(staging), "keyrings.alt>=5"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if done.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"pip could not install keyrings.alt: {done.stderr}")
        pytest.skip(f"pip could not install keyrings.alt from the registry: {done.stderr[-300:]}")
    try:
        staging.rename(target)
    except OSError:  # another worker put its copy there first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def test_a_read_imports_only_the_remembered_backend(keyrings_alt: Path, tmp_path: Path) -> None:
    config = tmp_path / "config"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ATONIX_", "PYTHON_KEYRING"))}
    env.pop("DBUS_SESSION_BUS_ADDRESS", None)  # never the machine's own keyring
    env.update(
        PYTHONPATH=str(keyrings_alt),
        ATONIX_CONFIG_DIR=str(config),
        ATONIX_DATA_DIR=str(tmp_path / "data"),
        XDG_DATA_HOME=str(tmp_path / "xdg-data"),
        XDG_CONFIG_HOME=str(tmp_path / "xdg-config"),
    )

    def run(*argv: str, **extra: str) -> str:
        done = subprocess.run(
            [sys.executable, *argv], cwd=REPO, env={**env, **extra}, capture_output=True,
            text=True, stdin=subprocess.DEVNULL, timeout=60,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    # The write lets keyring choose (pinned to the plaintext file backend under tmp_path).
    run(
        "-m", "atonix_cli", "profile", "create", "team", "--endpoint", "http://127.0.0.1:9",
        "--api-key", "k1", PYTHON_KEYRING_BACKEND=PLAINTEXT,
    )  # fmt: skip
    raw = tomllib.loads((config / "config.toml").read_text())["profiles"]["team"]
    assert (raw["secret_store"], raw["keyring_backend"]) == ("keyring", PLAINTEXT)

    report = json.loads(run("-c", READ_SECRET, str(config)))
    assert report["secret"] == "k1"
    assert not report["chosen"] and not report["scanned"]
    # Discovery would import every backend: keyring's own and keyrings.alt's Gnome, Google...
    assert report["modules"] == [
        "keyring.backends",
        "keyring.backends.fail",  # imported by keyring.core itself
        "keyrings",
        "keyrings.alt",
        "keyrings.alt.escape",
        "keyrings.alt.file",
        "keyrings.alt.file_base",
    ]
    # Imported by keyring.backend and jaraco.*, but only discovery and rare helpers use them.
    assert report["ran"] == []

    # A remembered backend that is gone: keyring's discovery scans the entry points (running
    # the deferred importlib_metadata) and finds the plaintext file backend that holds the key.
    path = config / "config.toml"
    path.write_text(path.read_text().replace(PLAINTEXT, "no_such_package.Keyring"))
    report = json.loads(run("-c", READ_SECRET, str(config)))
    assert report["secret"] == "k1"
    assert report["chosen"] and report["scanned"]
    assert any("metadata" in name for name in report["ran"])


def test_a_deferred_module_runs_once_on_first_use(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profiles import secrets

    (tmp_path / "deferred_probe.py").write_text(
        "import sys\nsys.modules[__name__].runs = getattr(sys, 'deferred_probe_runs', 0) + 1\n"
        "sys.deferred_probe_runs = sys.modules[__name__].runs\nvalue = 42\n"
    )
    (tmp_path / "deferred_broken.py").write_text("raise ImportError('broken on purpose')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("deferred_probe", "deferred_broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    monkeypatch.delattr(sys, "deferred_probe_runs", raising=False)

    secrets._defer(("deferred_probe", "deferred_broken", "no_such_module_here"))
    held = sys.modules["deferred_probe"]
    import deferred_probe

    assert deferred_probe is held and not hasattr(sys, "deferred_probe_runs")
    from deferred_probe import value

    assert value == 42 and deferred_probe.runs == 1 and sys.deferred_probe_runs == 1
    assert sys.modules["deferred_probe"] is held and type(held).__name__ == "module"
    assert "no_such_module_here" not in sys.modules

    # A module whose code fails leaves sys.modules as a failed import would.
    with pytest.raises(ImportError, match="broken on purpose"):
        sys.modules["deferred_broken"].anything  # noqa: B018
    assert "deferred_broken" not in sys.modules
