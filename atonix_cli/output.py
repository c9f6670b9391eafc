"""Rendering data on stdout: table, text (pipes), json, yaml, csv; --query applied first."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from typing import Any, TextIO

from atonix_cli.errors import CliError, ExitCode

FORMATS = ("table", "json", "yaml", "csv", "text")
Column = tuple[str, str]  # (field, header)


def apply_query(data: Any, expression: str) -> Any:
    import jmespath
    from jmespath.exceptions import JMESPathError

    try:
        return jmespath.search(expression, data)
    except JMESPathError as exc:
        # Parse errors add lines drawing a caret under the expression; errors are one line.
        reason = str(exc).splitlines()[0].rstrip(":")
        raise CliError(f"invalid --query {expression!r}: {reason}", ExitCode.USAGE) from None


def render(
    data: Any,
    *,
    fmt: str,
    columns: Sequence[Column] | None,
    stream: TextIO,
    color: bool,
) -> None:
    if fmt == "json":
        stream.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    elif fmt == "yaml":
        import yaml

        stream.write(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120))
    elif fmt == "csv":
        _csv(data, columns, stream)
    elif fmt == "table":
        _table(data, columns, stream, color)
    else:
        _text(data, columns, stream)


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


def _columns_for(rows: list[Any], columns: Sequence[Column] | None) -> list[Column]:
    if columns:
        return list(columns)
    keys: dict[str, None] = {}
    for row in rows:
        if isinstance(row, dict):
            keys.update(dict.fromkeys(row))
    return [(k, k.upper()) for k in keys]


def _is_records(data: Any) -> bool:
    return isinstance(data, list) and all(isinstance(r, dict) for r in data)


def _text(data: Any, columns: Sequence[Column] | None, stream: TextIO) -> None:
    """Tab-separated, no header, no colour: one record per line, for `cut`, `awk` and loops."""
    if _is_records(data):
        for row in data:
            stream.write(
                "\t".join(_cell(row.get(f)) for f, _ in _columns_for(data, columns)) + "\n"
            )
    elif isinstance(data, list):
        for item in data:
            stream.write(_cell(item) + "\n")
    elif isinstance(data, dict):
        for key, value in data.items():
            stream.write(f"{key}\t{_cell(value)}\n")
    elif data is not None:
        stream.write(_cell(data) + "\n")


def _csv(data: Any, columns: Sequence[Column] | None, stream: TextIO) -> None:
    writer = csv.writer(stream, lineterminator="\n")
    if _is_records(data):
        cols = _columns_for(data, columns)
        writer.writerow([f for f, _ in cols])
        for row in data:
            writer.writerow([_cell(row.get(f)) for f, _ in cols])
    elif isinstance(data, dict):
        writer.writerow(["field", "value"])
        for key, value in data.items():
            writer.writerow([key, _cell(value)])
    elif isinstance(data, list):
        for item in data:
            writer.writerow([_cell(item)])
    elif data is not None:
        writer.writerow([_cell(data)])


def _table(data: Any, columns: Sequence[Column] | None, stream: TextIO, color: bool) -> None:
    from rich.console import Console
    from rich.table import Table

    # Off a terminal (an explicit `-o table` in a pipe) nothing is cut to fit a width.
    width = None if stream.isatty() else 10_000
    console = Console(file=stream, no_color=not color, highlight=False, width=width)
    if _is_records(data):
        cols = _columns_for(data, columns)
        table = Table(box=None, pad_edge=False, header_style="bold" if color else "")
        for _, header in cols:
            table.add_column(header, no_wrap=True)
        for row in data:
            table.add_row(*(_cell(row.get(f)) for f, _ in cols))
        console.print(table)
    elif isinstance(data, dict):
        table = Table(box=None, pad_edge=False, show_header=False)
        table.add_column(style="bold" if color else "")
        table.add_column(overflow="fold")
        for key, value in data.items():
            table.add_row(key, _cell(value))
        console.print(table)
    else:
        _text(data, columns, stream)
