"""The documentation stays true to the code: the configuration reference is what the
settings model generates, the README stays short, and every relative link lands."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import re
from pathlib import Path
from types import ModuleType

from medianest.settings import ENV_PREFIX, Settings

ROOT = Path(__file__).resolve().parents[2]
README_MAX_BYTES = 12_000
# [text](target) and ![alt](target); the target ends at whitespace or ")".
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def generator() -> ModuleType:
    path = ROOT / "scripts" / "gen-config-docs"
    loader = importlib.machinery.SourceFileLoader("gen_config_docs", str(path))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def documents() -> list[Path]:
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def anchors(markdown: str) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens."""
    ids = set()
    for line in FENCE.sub("", markdown).splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            ids.add(re.sub(r"[^\w\- ]", "", title).replace(" ", "-"))
    return ids


def test_configuration_reference_is_what_the_settings_model_generates():
    expected = generator().render()
    actual = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert actual == expected, "docs/configuration.md is stale: run scripts/gen-config-docs"


def test_configuration_reference_has_a_row_with_a_meaning_for_every_setting():
    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for name in Settings.model_fields:
        row = next(
            (
                line
                for line in text.splitlines()
                if line.startswith(f"| `{ENV_PREFIX}{name.upper()}`")
            ),
            None,
        )
        assert row is not None, name
        meaning = row.rstrip(" |").rsplit(" | ", 1)[1]
        assert len(meaning.split()) >= 3, (name, meaning)


def test_readme_is_short_enough_to_read_in_two_minutes():
    size = len((ROOT / "README.md").read_bytes())
    assert size <= README_MAX_BYTES, f"README.md is {size} bytes; move reference to docs/"


def test_every_relative_link_in_the_readme_and_docs_points_to_an_existing_file():
    broken = []
    for document in documents():
        text = FENCE.sub("", document.read_text(encoding="utf-8"))
        for target in LINK.findall(text):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
                continue
            path_part, _, fragment = target.partition("#")
            linked = (document.parent / path_part).resolve() if path_part else document
            where = f"{document.relative_to(ROOT)} -> {target}"
            if not linked.exists():
                broken.append(f"{where}: no such file")
            elif (
                fragment
                and linked.suffix == ".md"
                and fragment not in anchors(linked.read_text(encoding="utf-8"))
            ):
                broken.append(f"{where}: no such heading")
    assert not broken, "\n".join(broken)
