"""The environment the suite runs in is exactly the lock, and the lock agrees with itself
and with pyproject.toml's ranges."""

from __future__ import annotations

import sys
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
# Installed by `python -m venv` and by scripts/install itself, not by the lock.
NOT_LOCKED = {"pip", "medianest"}


def locked(name: str) -> dict[str, str]:
    """{package: version} of requirements/<name>.txt whose markers hold on this interpreter."""
    pins: dict[str, str] = {}
    for raw in (ROOT / "requirements" / f"{name}.txt").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "--")):
            continue
        requirement, _, marker = line.rstrip("\\").partition(";")
        if marker.strip() and not Marker(marker.strip()).evaluate():
            continue
        package, _, version = requirement.strip().partition("==")
        assert version, f"not pinned with ==: {line}"
        pins[canonicalize_name(package)] = version.strip()
    return pins


def installed() -> dict[str, str]:
    return {
        canonicalize_name(dist.metadata["Name"]): dist.version
        for dist in metadata.distributions(path=[p for p in sys.path if "site-packages" in p])
    }


def test_every_lock_line_carries_a_hash() -> None:
    for name in ("run", "test"):
        text = (ROOT / "requirements" / f"{name}.txt").read_text()
        for line in text.splitlines():
            if "==" in line and not line.lstrip().startswith("#"):
                assert line.rstrip().endswith("\\"), f"{name}.txt: no hash after {line}"


def test_the_test_environment_holds_exactly_the_test_lock() -> None:
    have = {k: v for k, v in installed().items() if k not in NOT_LOCKED}
    assert have == locked("test")


def test_the_runtime_lock_is_the_test_lock_restricted_to_runtime_packages() -> None:
    run, test = locked("run"), locked("test")
    assert run, "empty runtime lock"
    assert {name: test.get(name) for name in run} == run
    assert "pytest" not in run and "mypy" not in run


def test_pyproject_ranges_admit_the_locked_versions() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    test = locked("test")
    declared = [*project["dependencies"], *project["optional-dependencies"]["test"]]
    for spec in declared:
        requirement = Requirement(spec)
        name = canonicalize_name(requirement.name)
        assert name in test, f"{name} is declared but not locked"
        assert requirement.specifier.contains(test[name], prereleases=True), (
            f"{name}: locked {test[name]} is outside {requirement.specifier}"
        )
