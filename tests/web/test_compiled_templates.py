"""Compiled templates are kept in the data directory from one start to the next: a
restarted server renders its first page without compiling (the first `/dashboard`
compiled for 112 ms on a middling machine, holding the event loop), and a cache it cannot
read or write costs a compile, never a page."""

from __future__ import annotations

import shutil
import stat
from collections.abc import Callable, Iterator
from typing import Any

import jinja2
import pytest

from medianest.app import MediaNestApp
from medianest.settings import Settings
from medianest.web import templating
from tests.factories.users import make_client


@pytest.fixture
def new_process() -> Iterator[Callable[[], None]]:
    """Forget the process's template environment, as a restarted server has none."""
    templating.templates.cache_clear()
    yield templating.templates.cache_clear
    templating.templates.cache_clear()


@pytest.fixture
def compiles(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The names of the templates Jinja2 compiles from source (a spy on its own method)."""
    compiled: list[str] = []
    real_compile = jinja2.Environment.compile

    def counting(self: jinja2.Environment, source: str, name: str | None = None, *a: Any) -> Any:
        compiled.append(str(name))
        return real_compile(self, source, name, *a)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    return compiled


async def _sign_in_page(app: MediaNestApp) -> int:
    async with make_client(app) as client:
        return (await client.get("/login")).status_code


async def test_a_restarted_server_renders_its_first_page_without_compiling(
    app_factory: Callable[..., Any],
    settings: Settings,
    new_process: Callable[[], None],
    compiles: list[str],
) -> None:
    assert await _sign_in_page(await app_factory(settings)) == 200
    assert "base.html" in compiles
    kept = settings.data_dir / "compiled-templates"
    assert stat.S_IMODE(kept.stat().st_mode) == 0o700
    assert len(list(kept.glob("*.jinja"))) >= 2  # the page and the layout it extends

    new_process()
    compiles.clear()
    assert await _sign_in_page(await app_factory(settings)) == 200
    assert compiles == []


async def test_a_damaged_or_vanished_cache_costs_a_compile_not_a_page(
    app_factory: Callable[..., Any],
    settings: Settings,
    new_process: Callable[[], None],
    compiles: list[str],
) -> None:
    app = await app_factory(settings)
    assert await _sign_in_page(app) == 200
    kept = settings.data_dir / "compiled-templates"
    for path in kept.glob("*.jinja"):
        path.write_bytes(path.read_bytes()[:40] + b"\x00garbage")

    new_process()
    compiles.clear()
    assert await _sign_in_page(app) == 200
    assert "base.html" in compiles  # compiled again...
    new_process()
    compiles.clear()
    assert await _sign_in_page(app) == 200
    assert compiles == []  # ...and written anew

    shutil.rmtree(kept)
    new_process()
    assert await _sign_in_page(app) == 200  # nowhere to write: compiled, still served
