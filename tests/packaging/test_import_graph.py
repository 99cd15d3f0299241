"""Imports point one way (issue 24): every package of `medianest` has a place in `LAYERS`,
and a module may import only from its own package or from packages below it. A graph
that only points down has no cycle, so a new cycle fails here, naming the edge.

Every import counts: top-level, inside functions, under TYPE_CHECKING. `NOT_YET` lists
the upward edges still being taken apart; an edge fixed must leave it (a stale entry
fails too), so the list only shrinks. docs/architecture.md draws the same layers.
"""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "medianest"

# Bottom to top. A top-level module (settings.py, app.py, ...) is a package of its own.
LAYERS = [
    "settings",
    "db",
    "core",
    "platform",
    "limits",
    "integrations",
    "context",
    "web",
    "auth",
    "plex",
    "media",
    "youtube",
    "dashboard",
    "notifications",
    "ops",
    "admin",
    # Composition: wires the domains together.
    "models",
    "migrations",
    "pages",
    "app",
    "worker",
    "demo",
    "cli",
    "__main__",
]

# Upward edges (importer, imported) not yet taken apart: none left. Never add one back.
NOT_YET: set[tuple[str, str]] = set()


def package_of(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def imported_packages(path: Path) -> set[str]:
    """The `medianest` packages a module imports, wherever the import statement is."""
    found: set[str] = set()
    own = package_of(path)
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (write medianest.…)"
            if node.module == "medianest":  # from medianest import app
                names = [f"medianest.{alias.name}" for alias in node.names]
            elif node.module:
                names = [node.module]
        for name in names:
            parts = name.split(".")
            if parts[0] != "medianest" or len(parts) < 2 or parts[1] == own:
                continue
            if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file():
                found.add(parts[1])
    return found


def package_graph() -> dict[str, dict[str, set[str]]]:
    """importer -> imported -> the modules that import it (for the failure message)."""
    graph: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(PACKAGE.rglob("*.py")):
        for imported in imported_packages(path):
            graph[package_of(path)][imported].add(str(path.relative_to(ROOT)))
    return graph


def upward_edges(
    graph: dict[str, dict[str, set[str]]], layers: list[str]
) -> dict[tuple[str, str], set[str]]:
    rank = {name: index for index, name in enumerate(layers)}
    return {
        (importer, imported): modules
        for importer, targets in graph.items()
        for imported, modules in targets.items()
        if rank[imported] > rank[importer]
    }


def cycle_in(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of a directed graph, or None (depth-first, colouring the path)."""
    on_path: list[str] = []
    done: set[str] = set()

    def visit(node: str) -> list[str] | None:
        if node in on_path:
            return [*on_path[on_path.index(node) :], node]
        if node in done:
            return None
        on_path.append(node)
        for target in sorted(graph.get(node, ())):
            cycle = visit(target)
            if cycle is not None:
                return cycle
        on_path.pop()
        done.add(node)
        return None

    for start in sorted(graph):
        cycle = visit(start)
        if cycle is not None:
            return cycle
    return None


def test_every_package_has_a_layer() -> None:
    packages = {package_of(p) for p in PACKAGE.rglob("*.py")} - {"__init__"}
    unplaced = sorted(packages - set(LAYERS))
    assert not unplaced, f"place these in LAYERS (and docs/architecture.md): {unplaced}"


def test_imports_point_down_the_layers() -> None:
    upward = upward_edges(package_graph(), LAYERS)
    new = {edge: modules for edge, modules in upward.items() if edge not in NOT_YET}
    assert not new, "imports pointing up the layers:\n" + "\n".join(
        f"  {a} -> {b}: {sorted(m)}" for (a, b), m in sorted(new.items())
    )
    stale = sorted(NOT_YET - set(upward))
    assert not stale, f"fixed, so remove from NOT_YET: {stale}"


def test_without_the_edges_not_yet_taken_apart_there_is_no_cycle() -> None:
    graph = {
        importer: {t for t in targets if (importer, t) not in NOT_YET}
        for importer, targets in package_graph().items()
    }
    assert cycle_in(graph) is None, cycle_in(graph)


def test_the_checks_catch_a_cycle_and_an_upward_edge() -> None:
    made_up = {"core": {"auth"}, "auth": {"core"}}
    assert cycle_in(made_up) == ["auth", "core", "auth"]
    assert cycle_in({"core": set(), "auth": {"core"}}) is None
    graph = {"core": {"auth": {"core/x.py"}}, "auth": {"core": {"auth/y.py"}}}
    assert upward_edges(graph, ["core", "auth"]) == {("core", "auth"): {"core/x.py"}}


def test_core_imports_no_domain() -> None:
    below_core = set(LAYERS[: LAYERS.index("core")])
    core_imports = set(package_graph().get("core", {}))
    not_yet = {imported for importer, imported in NOT_YET if importer == "core"}
    assert core_imports - below_core - not_yet == set()


def test_the_architecture_page_opens_with_the_layers_top_to_bottom() -> None:
    """docs/architecture.md's first picture (before the request-flow diagram) names every
    layer once, in LAYERS order read from the top; its group labels are in capitals."""
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    first_picture = text.split("```")[1]
    assert re.findall(r"\b_*[a-z]+_*\b", first_picture) == LAYERS[::-1]
