"""Matching a method and path against the platform's routes and the touched collection's."""

from __future__ import annotations

import re
from dataclasses import dataclass

from engine.api.routes import PLATFORM, SDK_SERVICES, SERVICES, Route


@dataclass(frozen=True)
class Match:
    route: Route
    params: dict[str, str]


class RouteSet:
    """Routes matched by exact path first, then by pattern; a list-level action's path is never
    read as a detail route of an id."""

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self._static: dict[tuple[str, str], Route] = {}
        self._patterns: list[tuple[re.Pattern[str], Route]] = []
        self._static_paths: set[str] = {r.path for r in routes if "{" not in r.path}
        for route in routes:
            if "{" in route.path:
                # `{name}` is one path segment; `{name:path}` the rest of the path, slashes and all.
                regex = re.sub(r"\{(\w+):path\}", r"(?P<\1>(?s:.+))", route.path)
                regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", regex)
                self._patterns.append((re.compile(f"^{regex}\\Z"), route))
            else:
                self._static[(route.method, route.path)] = route

    def match(self, method: str, path: str) -> Match | None:
        route = self._static.get((method, path))
        if route is not None:
            return Match(route, {})
        for pattern, candidate in self._patterns:
            if candidate.method != method:
                continue
            found = pattern.match(path)
            if found and path not in self._static_paths:
                return Match(candidate, found.groupdict())
        return None

    def allowed_methods(self, path: str) -> set[str]:
        methods = {m for (m, p) in self._static if p == path}
        return methods | {r.method for pattern, r in self._patterns if pattern.match(path)}


class Router:
    """The platform's routes, and each collection's, derived from its declaration on the first
    request that names it: a request costs the same with 3 collections declared or 26."""

    def __init__(self, platform: tuple[Route, ...] = PLATFORM) -> None:
        self._platform = RouteSet(platform)
        self._collections: dict[str, RouteSet] = {}

    def match(self, method: str, path: str) -> Match | None:
        path = canonical(path)
        routes = self._routes_for(path)
        return routes.match(method, path) if routes is not None else None

    def allowed_methods(self, path: str) -> list[str]:
        path = canonical(path)
        routes = self._routes_for(path)
        return sorted(routes.allowed_methods(path)) if routes is not None else []

    def _routes_for(self, path: str) -> RouteSet | None:
        if not path.startswith(SERVICES + "/"):
            return self._platform
        name = path[len(SERVICES) + 1 :].partition("/")[0]
        found = self._collections.get(name)
        if found is None:
            from engine import registry
            from engine.api.routes import collection_routes

            if name not in registry.modules():
                return None
            found = self._collections[name] = RouteSet(collection_routes(registry.get(name)))
        return found


def canonical(path: str) -> str:
    """The route-table spelling of a path: the SDKs' `/api/services/x/` is `/api/v1/services/x/`."""
    if path.startswith(SDK_SERVICES + "/"):
        return SERVICES + path[len(SDK_SERVICES) :]
    return path
