"""axe-core on every page, at a desktop (1366 px) and a phone (390 px) width, in the light
and the dark theme: no serious or critical violation anywhere.

The themes differ only in colour custom properties (static/app.css), so each page is
loaded once per width in the light theme and checked against every rule, then switched to
the dark theme in place and checked again against the rules that read colours.

axe is vendored in tests/e2e/vendor (npm `axe-core`, MPL-2.0), never served by the app:
the test context bypasses the page's CSP only to inject it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from medianest_simulators.suite import SimulatorSuite
from tests.e2e.flows import (
    DESKTOP,
    PHONE,
    AdminAccount,
    screenshot,
    sign_in_admin,
    sign_in_plex_user,
)

pytestmark = pytest.mark.e2e

AXE = (Path(__file__).parent / "vendor" / "axe.min.js").read_text()
VIEWPORTS = {"desktop": DESKTOP, "phone": PHONE}
# The rules of the checked tags that read colours: the only ones a theme can change.
COLOUR_RULES = ["color-contrast", "link-in-text-block"]
# Walked as a Plex user (carol): the admin's per-user request budget belongs to the other
# browser tests, which run as the admin in the same minute.
SIGNED_IN_PAGES = (
    "/dashboard",
    "/media",
    "/media?query=sintel",
    "/plex",
    "/plex?library=2",
    "/youtube",
    "/youtube/subscriptions",
    "/no/such/page",
)
ADMIN_PAGES = ("/admin", "/change-password")
ANONYMOUS_PAGES = ("/login",)


def serious_violations(page: Page, rules: list[str] | None = None) -> list[dict[str, Any]]:
    """axe's serious and critical findings on the page: every rule of the checked tags, or
    only `rules`."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(content=AXE)
    result = page.evaluate(
        """async (rules) => {
            const found = await axe.run(document, {
              runOnly: rules ? {type: 'rule', values: rules}
                : {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}
            });
            return found.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 5).map(n => ({target: n.target, summary: n.failureSummary}))
            }));
        }""",
        rules,
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def settle(page: Page, path: str) -> None:
    page.goto(path)
    page.wait_for_load_state("networkidle")
    if path.startswith("/media?query="):
        page.locator("#results .poster-card, #results .alert").first.wait_for()


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_page_has_no_serious_or_critical_axe_violation(
    new_context: Any,
    admin_account: AdminAccount,
    simulators: SimulatorSuite,
    screenshots: Path,
    viewport: str,
) -> None:
    # bypass_csp: axe is injected, which the app's strict CSP would rightly refuse.
    context = new_context(bypass_csp=True, viewport=VIEWPORTS[viewport])
    context.add_init_script("localStorage.setItem('medianest-theme', 'light')")
    page = context.new_page()
    problems: dict[str, list[dict[str, Any]]] = {}

    def check(path: str) -> None:
        settle(page, path)
        name = "a11y-" + (
            path.strip("/").replace("/", "-").replace("?", "-").replace("=", "-") or "root"
        )
        assert page.evaluate("document.documentElement.dataset.theme") == "light", path
        problems[f"{path} (light)"] = serious_violations(page)
        screenshot(page, screenshots / f"{name}-{viewport}-light.png")
        page.evaluate("document.documentElement.dataset.theme = 'dark'")  # as theme.js does
        problems[f"{path} (dark)"] = serious_violations(page, COLOUR_RULES)
        screenshot(page, screenshots / f"{name}-{viewport}-dark.png")

    for path in ANONYMOUS_PAGES:
        check(path)
    sign_in_plex_user(context, simulators.info.plex_tv_url, "carol")
    for path in SIGNED_IN_PAGES:
        check(path)
    context.clear_cookies()
    sign_in_admin(context, admin_account)
    for path in ADMIN_PAGES:
        check(path)
    found = {path: v for path, v in problems.items() if v}
    assert not found, json.dumps(found, indent=1)


# ------------------------------------------------ keyboard, motion, colour, live regions
# What axe does not see: a focus ring cut off by a scrolling box, an infinite animation
# under reduced motion, text shown only later (a badge, the bell's count), and what a live
# region says over time.

# The focused element's ring (outline + offset, as drawn) and the first ancestor that
# clips its overflow: the ring must lie inside that ancestor, or part of it is not drawn.
FOCUS_RING = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  const grow = style.outlineStyle === 'none' ? 0
    : Math.max(0, parseFloat(style.outlineWidth) + (parseFloat(style.outlineOffset) || 0));
  const ring = {left: box.left - grow, top: box.top - grow, right: box.right + grow, bottom: box.bottom + grow};
  let cutBy = null;
  for (let up = el.parentElement; up; up = up.parentElement) {
    const s = getComputedStyle(up);
    if (s.overflowX === 'visible' && s.overflowY === 'visible') continue;
    const clip = up.getBoundingClientRect();
    if (ring.left < clip.left - .5 || ring.top < clip.top - .5 || ring.right > clip.right + .5 || ring.bottom > clip.bottom + .5) {
      cutBy = up.tagName.toLowerCase() + '.' + [...up.classList].join('.');
    }
    break;
  }
  const name = el.getAttribute('aria-label') || el.textContent.trim().replace(/\\s+/g, ' ').slice(0, 40);
  return {
    name: el.tagName.toLowerCase() + ' ' + name,
    indicator: style.outlineStyle !== 'none' || style.boxShadow !== 'none',
    cutBy: cutBy,
  };
}"""


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_focus_ring_on_the_plex_page_is_drawn_whole(
    new_context: Any, simulators: SimulatorSuite, viewport: str
) -> None:
    """Tab through /plex (the main navigation, the filters, the collection posters): each
    stop shows a focus indicator that no scrolling or clipping box cuts off."""
    context = new_context(viewport=VIEWPORTS[viewport])
    sign_in_plex_user(context, simulators.info.plex_tv_url, "dora")
    page = context.new_page()
    page.goto("/plex")
    page.wait_for_load_state("networkidle")
    assert page.locator("a.poster").count() > 0  # the collections are part of the walk
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "skip-link"
    stops: list[dict[str, Any]] = []
    for _ in range(80):
        stop = page.evaluate(FOCUS_RING)
        if stop is None or (stops and stop["name"] == stops[0]["name"]):
            break
        stops.append(stop)
        page.keyboard.press("Tab")
    names = [stop["name"] for stop in stops]
    assert any("Blender Open Movies collection" in name for name in names), names
    unseen = [stop["name"] for stop in stops if not stop["indicator"]]
    cut = [f"{stop['name']} (cut by {stop['cutBy']})" for stop in stops if stop["cutBy"]]
    assert not unseen, unseen
    assert not cut, cut


def test_reduced_motion_leaves_no_animation_running_for_ever(
    new_context: Any, simulators: SimulatorSuite
) -> None:
    """With prefers-reduced-motion: reduce, the search spinner and the connection dot
    ("Reconnecting…") stand still: an endless animation squeezed to .01ms flickers."""
    context = new_context(viewport=DESKTOP, reduced_motion="reduce")
    sign_in_plex_user(context, simulators.info.plex_tv_url, "dora")
    page = context.new_page()
    page.goto("/media")
    page.wait_for_load_state("networkidle")
    # The state the socket puts the dot in while it reconnects.
    page.evaluate("document.getElementById('conn').dataset.state = 'connecting'")
    endless = page.evaluate(
        """() => document.getAnimations()
            .filter(a => a.playState === 'running' && a.effect.getComputedTiming().iterations === Infinity)
            .map(a => a.animationName + ' on ' + (a.effect.target.id || a.effect.target.className))"""
    )
    assert endless == [], endless
