"""Shell completion: the committed scripts are current, and the CLI answers them at runtime."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from commands.completion import script

REPO = Path(__file__).resolve().parents[1]
COMPLETIONS = REPO / "completions"
FILES = {"bash": "atonix.bash", "zsh": "_atonix", "fish": "atonix.fish"}
BIN = Path(sys.executable).parent
ATONIX = BIN / "atonix"


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """An environment that cannot touch the user's config, data or keyring."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("ATONIX_", "_ATONIX_"))}
    base.update(
        ATONIX_CONFIG_DIR=str(tmp_path / "config"),
        ATONIX_DATA_DIR=str(tmp_path / "data"),
        ATONIX_SECRET_STORE="file",
        ATONIX_CLOCK="instant",
        PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
    )
    return base


def _complete(env: dict[str, str], **variables: str) -> list[str]:
    """Run `atonix` as a shell's completion function would, and return the lines it prints."""
    done = subprocess.run(
        [str(ATONIX)], env={**env, **variables}, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@pytest.mark.parametrize("shell", sorted(FILES))
def test_committed_script_is_current(shell: str) -> None:
    committed = (COMPLETIONS / FILES[shell]).read_text()
    assert committed == script(shell), "stale: run python completions/generate.py"


@pytest.mark.parametrize("shell", sorted(FILES))
def test_completion_command_prints_the_committed_script(shell: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [str(ATONIX), "completion", shell], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (COMPLETIONS / FILES[shell]).read_text()


def test_bash_variables_complete_a_command(env: dict[str, str]) -> None:
    offered = _complete(
        env, _ATONIX_COMPLETE="complete_bash", COMP_WORDS="atonix inst", COMP_CWORD="1"
    )
    assert offered == ["instance"]


def test_bash_variables_complete_a_subcommand(env: dict[str, str]) -> None:
    offered = _complete(
        env, _ATONIX_COMPLETE="complete_bash", COMP_WORDS="atonix instance st", COMP_CWORD="2"
    )
    assert {"start", "stop"} <= set(offered)
    assert all(word.startswith("st") for word in offered), offered


def test_zsh_variables_complete_a_subcommand(env: dict[str, str]) -> None:
    answer = "\n".join(
        _complete(env, _ATONIX_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS="atonix instance st")
    )
    assert answer.startswith("_arguments"), answer
    assert '"start":' in answer and '"stop":' in answer


def test_fish_variables_complete_a_subcommand(env: dict[str, str]) -> None:
    offered = _complete(
        env,
        _ATONIX_COMPLETE="complete_fish",
        _TYPER_COMPLETE_FISH_ACTION="get-args",
        _TYPER_COMPLETE_ARGS="atonix instance st",
    )
    assert {"start", "stop"} <= {line.split("\t")[0] for line in offered}


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
@pytest.mark.parametrize(
    ("words", "expected"),
    [("atonix inst", {"instance"}), ("atonix instance st", {"start", "stop"})],
)
def test_bash_script_completes_in_bash(env: dict[str, str], words: str, expected: set[str]) -> None:
    """Source the committed script in a real bash and call its completion function."""
    program = (
        f'source "{COMPLETIONS / FILES["bash"]}"\n'
        f"COMP_WORDS=({words})\n"
        f"COMP_CWORD={len(words.split()) - 1}\n"
        "_atonix_completion atonix\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    offered = set(done.stdout.split())
    assert expected <= offered, offered
