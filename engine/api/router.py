"""Matching a method and path against the route table."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.api.routes import ROUTES, SDK_SERVICES, SERVICES, Route


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


class Router:
    def __init__(self, routes: tuple[Route, ...] = ROUTES) -> None:
        self._static: dict[tuple[str, str], Route] = {}
        self._patterns: list[tuple[re.Pattern[str], Route]] = []
        self._static_paths: set[str] = {r.path for r in routes if "{" not in r.path}
        for route in routes:
            if "{" in route.path:
                regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", route.path)
                self._patterns.append((re.compile(f"^{regex}$"), route))
            else:
                self._static[(route.method, route.path)] = route

    def match(self, method: str, path: str) -> Match | None:
        path = canonical(path)
        route = self._static.get((method, path))
        if route is not None:
            return Match(route, {})
        for pattern, candidate in self._patterns:
            if candidate.method != method:
                continue
            found = pattern.match(path)
            # A list-level action's path is never read as a detail route of an id.
            if found and path not in self._static_paths:
                return Match(candidate, found.groupdict())
        return None

    def allowed_methods(self, path: str) -> list[str]:
        path = canonical(path)
        methods = {m for (m, p) in self._static if p == path}
        methods |= {r.method for pattern, r in self._patterns if pattern.match(path)}
        return sorted(methods)


def canonical(path: str) -> str:
    """The route-table spelling of a path: the SDKs' `/api/services/x/` is `/api/v1/services/x/`."""
    if path.startswith(SDK_SERVICES + "/"):
        return SERVICES + path[len(SDK_SERVICES) :]
    return path
