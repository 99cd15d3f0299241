"""One check of a new element of a page, at a desktop and a phone width: shown within the
screen, the page no wider than the screen, axe clean in it (light and dark theme)."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.e2e.flows import DESKTOP, PHONE, TAKE_SCREENSHOTS
from tests.e2e.test_accessibility import COLOUR_RULES, serious_violations


def check_both_widths(page: Page, selector: str, shot: Path) -> None:
    """The element `selector` is visible within the screen at a desktop and a phone width,
    the page is no wider than the screen, and axe finds nothing serious or critical in it."""
    element = page.locator(selector).first
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        expect(element).to_be_visible()
        page.wait_for_function(
            "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
        )
        box = element.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size["width"]
        if TAKE_SCREENSHOTS:  # the element alone: a person looks at it, no test does
            element.screenshot(path=str(shot.with_name(f"{shot.name}-{size['width']}.png")))
        for theme in ("light", "dark"):  # as theme.js sets it
            page.evaluate(f"document.documentElement.dataset.theme = '{theme}'")
            rules = None if theme == "light" else COLOUR_RULES
            found = serious_violations(page, rules, within=selector)
            assert not found, (size, theme, found)
    page.set_viewport_size(DESKTOP)
