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
from playwright.sync_api import BrowserContext, Page, expect

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
    "/plex/items/306",  # an artist's albums
    "/plex/items/310",  # an album's tracks
    "/plex/items/201",  # a show's seasons
    "/plex/items/206",  # a season's episodes
    "/youtube",
    "/youtube/subscriptions",
    "/no/such/page",
)
ADMIN_PAGES = ("/admin", "/change-password")
ANONYMOUS_PAGES = ("/login",)


def serious_violations(
    page: Page, rules: list[str] | None = None, *, within: str | None = None
) -> list[dict[str, Any]]:
    """axe's serious and critical findings on the page (or in the elements matching the
    selector `within`): every rule of the checked tags, or only `rules`."""
    if not page.evaluate("typeof axe !== 'undefined'"):
        page.add_script_tag(content=AXE)
    result = page.evaluate(
        """async ([rules, within]) => {
            const found = await axe.run(within ? {include: [within]} : document, {
              runOnly: rules ? {type: 'rule', values: rules}
                : {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}
            });
            return found.violations.map(v => ({
              id: v.id, impact: v.impact, help: v.help,
              nodes: v.nodes.slice(0, 5).map(n => ({target: n.target, summary: n.failureSummary}))
            }));
        }""",
        [rules, within],
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


# WCAG 2 contrast of each sample's text against what is painted behind it (translucent
# backgrounds are laid over the ones below, down to the first opaque one).
CONTRASTS = """(selectors) => {
  const probe = document.createElement('canvas').getContext('2d', {willReadFrequently: true});
  function rgba(css) {
    probe.clearRect(0, 0, 1, 1);
    probe.fillStyle = '#000'; probe.fillStyle = css;
    probe.fillRect(0, 0, 1, 1);
    const [r, g, b, a] = probe.getImageData(0, 0, 1, 1).data;
    return [r, g, b, a / 255];
  }
  function behind(el) {
    const layers = [];
    for (let up = el; up; up = up.parentElement) {
      const c = rgba(getComputedStyle(up).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] >= 1) break;
    }
    let base = [255, 255, 255];
    for (const [r, g, b, a] of layers.reverse()) base = [r * a + base[0] * (1 - a), g * a + base[1] * (1 - a), b * a + base[2] * (1 - a)];
    return base;
  }
  function luminance(rgb) {
    const [r, g, b] = rgb.map(v => { v /= 255; return v <= .04045 ? v / 12.92 : ((v + .055) / 1.055) ** 2.4; });
    return .2126 * r + .7152 * g + .0722 * b;
  }
  return selectors.map(selector => {
    const el = document.querySelector(selector);
    if (!el) return [selector, null];
    const bg = behind(el);
    const [r, g, b, a] = rgba(getComputedStyle(el).color);
    const fg = [r * a + bg[0] * (1 - a), g * a + bg[1] * (1 - a), b * a + bg[2] * (1 - a)];
    const [hi, lo] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
    return [selector, Math.round((hi + .05) / (lo + .05) * 100) / 100];
  });
}"""
# Text as the templates show it (a request "pending", a download "queued", a service
# "degraded", a form error, the bell's unread count), added to a real page so the app's
# stylesheet colours it: most of these appear only in some states, which axe's walk of
# the pages does not reach.
SAMPLES = """
<section class="card" id="contrast-samples">
  <p class="muted" id="s-muted">muted</p>
  <p><a href="#main" id="s-link">link</a></p>
  <span class="badge" id="s-badge">not set up</span>
  <span class="badge badge-ok" id="s-ok">available</span>
  <span class="badge badge-bad" id="s-bad">failed</span>
  <span class="badge badge-warn" id="s-warn">pending</span>
  <span class="badge badge-info" id="s-info">approved</span>
  <div data-status="degraded"><span class="status-label" id="s-degraded">degraded</span></div>
  <div data-status="offline"><span class="status-label" id="s-offline">offline</span></div>
  <div data-status="online"><span class="status-label" id="s-online">online</span></div>
  <p class="field-error" id="s-error">Required.</p>
  <p class="hint" id="s-hint">hint</p>
  <button type="button" class="btn" id="s-btn">Button</button>
  <button type="button" class="btn btn-primary" id="s-primary">Primary</button>
  <button type="button" class="btn btn-secondary" id="s-secondary">Secondary</button>
  <button type="button" class="btn btn-danger" id="s-danger">Danger</button>
  <p class="alert alert-warning" id="s-alert-warning">warning</p>
  <p class="alert alert-error" id="s-alert-error">error</p>
</section>
"""
SAMPLE_SELECTORS = [
    "body",
    ".mainnav a:not([aria-current])",
    ".mainnav a[aria-current]",
    ".conn-label",
    "#bell-count",
    *(
        f"#s-{name}"
        for name in (
            "muted",
            "link",
            "badge",
            "ok",
            "bad",
            "warn",
            "info",
            "degraded",
            "offline",
            "online",
            "error",
            "hint",
            "btn",
            "primary",
            "secondary",
            "danger",
            "alert-warning",
            "alert-error",
        )
    ),
]


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_text_in_every_state_has_a_contrast_of_at_least_4_5(
    new_context: Any, simulators: SimulatorSuite, theme: str
) -> None:
    context = new_context(viewport=DESKTOP)
    context.add_init_script(f"localStorage.setItem('medianest-theme', '{theme}')")
    sign_in_plex_user(context, simulators.info.plex_tv_url, "dora")
    page = context.new_page()
    page.goto("/dashboard")
    page.wait_for_load_state("networkidle")
    assert page.evaluate("document.documentElement.dataset.theme") == theme
    page.evaluate(
        """(html) => {
            document.getElementById('main').insertAdjacentHTML('afterbegin', html);
            const count = document.getElementById('bell-count');  // as with 3 unread
            count.hidden = false; count.textContent = '3';
        }""",
        SAMPLES,
    )
    found = dict(page.evaluate(CONTRASTS, SAMPLE_SELECTORS))
    assert None not in found.values(), found
    low = {selector: ratio for selector, ratio in found.items() if ratio < 4.5}
    assert not low, low


# Every change of #conn's label with the region's aria-live at that moment, from the start.
RECORD_CONN = """document.addEventListener('DOMContentLoaded', () => {
    const conn = document.getElementById('conn');
    window.connSaid = [];
    new MutationObserver(() => window.connSaid.push(
        [conn.querySelector('.conn-label').textContent, conn.getAttribute('aria-live')]
    )).observe(conn, {subtree: true, childList: true, characterData: true});
});"""


def live_dashboard(new_context: Any, simulators: SimulatorSuite) -> tuple[BrowserContext, Page]:
    context = new_context(viewport=DESKTOP)
    context.add_init_script(RECORD_CONN)
    sign_in_plex_user(context, simulators.info.plex_tv_url, "dora")
    page = context.new_page()
    page.goto("/dashboard")
    expect(page.locator("#conn")).to_have_attribute("data-state", "live")
    expect(page.locator("#conn")).to_have_attribute("aria-live", "polite")
    return context, page


def test_the_connection_indicator_does_not_announce_every_page_as_live(
    new_context: Any, simulators: SimulatorSuite
) -> None:
    """#conn is a polite live region: its first "Live" on each page is not said (every
    page would say it); it speaks from then on."""
    _, page = live_dashboard(new_context, simulators)
    assert page.evaluate("window.connSaid") == [["Live", "off"]]


def test_the_connection_indicator_says_a_lost_connection_once(
    new_context: Any, simulators: SimulatorSuite
) -> None:
    """While the server cannot be reached, #conn says "Reconnecting…" and "Offline"
    once, not again at every retry; then "Live" when it is back."""
    context, page = live_dashboard(new_context, simulators)
    page.evaluate("window.connSaid = []")
    context.set_offline(True)
    page.evaluate("window.MediaNest.socket.io.engine.close()")  # as a server going away
    page.wait_for_timeout(6000)  # socket.io retries after 0.5-1.5 s, then 1-3 s, ...
    assert page.evaluate("window.connSaid") == [
        ["Reconnecting…", "polite"],
        ["Offline", "polite"],
    ]
    context.set_offline(False)
    expect(page.locator("#conn")).to_have_attribute("data-state", "live", timeout=15_000)
    assert page.evaluate("window.connSaid")[-1] == ["Live", "polite"]
