"""Code stays in readable pieces (issue 24): no module in src/ over 400 lines and no
function over 60, counted from the `def` line to the last line of the body (decorators
not counted), nested functions included.

Alembic migration files (src/medianest/migrations/versions) are exempt: they are
generated schema code, read as a whole, and never edited once released.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = [ROOT / "src" / "medianest", ROOT / "src" / "medianest_simulators"]
MIGRATIONS = ROOT / "src" / "medianest" / "migrations" / "versions"
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    found: list[Path] = []
    for package in PACKAGES:
        in_package = [p for p in sorted(package.rglob("*.py")) if MIGRATIONS not in p.parents]
        assert in_package, f"no modules found under {package}"  # a moved tree passes nothing
        found += in_package
    return found


def test_no_module_in_src_is_over_400_lines() -> None:
    too_long = []
    for path in modules():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {lines} lines")
    assert not too_long, "modules over 400 lines:\n" + "\n".join(too_long)


def test_no_function_in_src_is_over_60_lines() -> None:
    too_long = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                assert node.end_lineno is not None
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    too_long.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines}")
    assert not too_long, "functions over 60 lines:\n" + "\n".join(too_long)
