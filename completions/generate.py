"""Write the shell completion scripts kept in this directory.

    python completions/generate.py          # (re)write atonix.bash, _atonix and atonix.fish
    python completions/generate.py --check  # exit 1 if a committed script is out of date

The scripts are exactly what `atonix completion <shell>` prints; tests/test_completions.py
fails when they drift, so rerun this after changing the command tree or upgrading typer.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
FILES = {"bash": "atonix.bash", "zsh": "_atonix", "fish": "atonix.fish"}


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE.parent))  # the repo, when atonix is not installed
    from commands.completion import script  # noqa: TID251 (a CLI tool, not the engine)

    check = "--check" in argv
    stale = []
    for shell, name in FILES.items():
        path = HERE / name
        text = script(shell)
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if check:
            stale.append(name)
        else:
            path.write_text(text)
            print(f"wrote {path.relative_to(HERE.parent)}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python completions/generate.py")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
