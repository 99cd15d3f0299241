"""Titles written by strangers reach outside channels as text, never as markup.

A film's title is TMDB's (anyone with a TMDB account edits it), a download's is the
uploader's: MediaNest puts them in its messages. Apprise sends a body whose format is not
declared to every service as it is (apprise/apprise.py `_create_notify_gen`:
`body_passthrough` when `body_format` is None; conversion/format.py `convert_between`), so
an HTML mail (Apprise's `mailto://` default, plugins/email/base.py `notify_format`) carried
a title's `<a href>` as a working link and its `<img>` as a tracking pixel; and a title
of "@everyone" pinged a whole Discord server or Mattermost channel. Here the
title comes from the Overseerr simulator's TMDB data, goes through the real webhook,
worker and Apprise, and lands on a real SMTP server on loopback."""

from __future__ import annotations

import dataclasses
import re
from email.message import Message
from html.parser import HTMLParser

import httpx
import pytest
from apprise.plugins.discord import NotifyDiscord
from apprise.plugins.slack import NotifySlack

from medianest.app import MediaNestApp
from medianest.auth.models import User
from medianest_simulators.overseerr_data import CATALOGUE
from tests.notifications.conftest import overseerr_payload, post_overseerr_hook
from tests.notifications.receivers import HttpReceiver, SmtpReceiver
from tests.notifications.test_delivery import add_channel

TMDB_ID = 400004
HOSTILE_TITLE = (
    'Llamigos <a href="https://evil.example/plex-login">Your Plex account is locked: '
    'sign in again</a><img src="https://tracker.example/open.gif">'
)


class Rendered(HTMLParser):
    """What a mail client makes of an HTML part: its elements and its text."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.text = ""
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text += data.replace("\xa0", " ")


def parts(message: Message) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_payload(decode=True).decode()
        for part in message.walk()
        if part.get_content_type().startswith("text/")
    }


async def film_made_available(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
    *,
    title: str,
    channel: str,
) -> None:
    """Alice asks for a film whose TMDB title is `title`; Overseerr says it is available."""
    film = dataclasses.replace(CATALOGUE[("movie", TMDB_ID)], title=title)
    monkeypatch.setitem(CATALOGUE, ("movie", TMDB_ID), film)
    await add_channel(alice_client, channel, ["request.available"])
    made = (
        await alice_client.post(
            "/api/media/request", json={"mediaType": "movie", "tmdbId": TMDB_ID}
        )
    ).json()["data"]
    payload = overseerr_payload(
        "MEDIA_AVAILABLE", request_id=made["overseerrId"], tmdb_id=TMDB_ID, status="AVAILABLE"
    )
    assert (await post_overseerr_hook(app, payload)).status_code == 200


async def mail_about_a_hostile_title(
    app: MediaNestApp,
    alice_client: httpx.AsyncClient,
    smtp: SmtpReceiver,
    monkeypatch: pytest.MonkeyPatch,
    url_options: str = "",
) -> dict[str, str]:
    url = (
        f"mailto://127.0.0.1:{smtp.port}?from=medianest@example.test"
        f"&to=alice@example.test&mode=insecure{url_options}"
    )
    await film_made_available(app, alice_client, monkeypatch, title=HOSTILE_TITLE, channel=url)
    return parts((await smtp.wait_for(1))[0])


async def test_a_title_with_markup_reaches_a_mail_channel_as_the_text_it_is(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    smtp: SmtpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = await mail_about_a_hostile_title(app, alice_client, smtp, monkeypatch)
    if "text/html" in texts:
        # No working link to the stranger's page, no pixel telling them the mail was read.
        assert not {"a", "img"} & set(Rendered(texts["text/html"]).tags), texts["text/html"]
    # The person reads the title as it is, not a "Your Plex account is locked" line.
    assert HOSTILE_TITLE in texts["text/plain"]


async def test_a_mail_channel_asking_for_html_gets_the_title_escaped(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    smtp: SmtpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = await mail_about_a_hostile_title(
        app, alice_client, smtp, monkeypatch, url_options="&format=html"
    )
    shown = Rendered(texts["text/html"])
    assert not {"a", "img"} & set(shown.tags), texts["text/html"]
    assert HOSTILE_TITLE in shown.text


# Words that notify everyone in a room when they follow "@" (or Discord's <@id>/<@&id>).
MASS_MENTIONS = re.compile(r"@(everyone|here|channel|all|room)\b|<@[!&]?\d", re.IGNORECASE)
PINGING_TITLE = "@everyone @here <@&123456789012345678> Free Plex Pass: @channel @all @room"


async def test_a_title_cannot_ping_a_whole_discord_server(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    webhook: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Discord parses mentions from a webhook's `content` unless `allowed_mentions` says
    otherwise (Discord's default, discordjs/discord.js#4085), and Apprise sends no
    `allowed_mentions` in its plain mode (apprise/plugins/discord.py `send`). Apprise's
    Discord endpoint points at a loopback receiver here: what Discord would have got."""
    monkeypatch.setattr(NotifyDiscord, "notify_url", f"{webhook.url}/api/webhooks")
    channel = f"discord://123456789012345678/{'t0k3n-' * 11}"
    await film_made_available(app, alice_client, monkeypatch, title=PINGING_TITLE, channel=channel)
    [sent] = await webhook.wait_for(1)
    content = sent.json()["content"]
    assert not MASS_MENTIONS.search(content), content
    # Still readable: the words are there, with an invisible space after the "@".
    assert content.replace("\u200b", "").count(PINGING_TITLE) == 2  # title and body


async def test_a_title_cannot_ping_a_whole_mattermost_channel(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    webhook: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mattermost's incoming webhook (`mmost://`, a household's own server) posts `text`,
    where @channel, @all and @here notify everyone in the channel."""
    channel = f"mmost://127.0.0.1:{webhook.port}/{'abcdefghijklmnopqrstuvwxyz'}"
    await film_made_available(app, alice_client, monkeypatch, title=PINGING_TITLE, channel=channel)
    [sent] = await webhook.wait_for(1)
    text = sent.json()["text"]
    assert not MASS_MENTIONS.search(text), text
    assert PINGING_TITLE in text.replace("\u200b", "")


async def test_a_title_cannot_ping_a_whole_slack_channel(
    app: MediaNestApp,
    alice: User,
    alice_client: httpx.AsyncClient,
    webhook: HttpReceiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Slack pings a channel for `<!channel>`, `<!here>`, `<!everyone>` (its formatting
    rules; text must escape `&`, `<`, `>`). Apprise's Slack plugin, given a body of no
    declared format, turns such a text into the mention (plugins/slack.py,
    `_re_channel_support`); declared text, it escapes it (`dialect_convert`)."""
    monkeypatch.setattr(NotifySlack, "webhook_url", f"{webhook.url}/services")
    channel = "slack://T1JJ3T3L2/A1BRTD4JD/TIiajkdnlazkcOXrIdevi7"
    title = "<!channel> <!here> <!everyone> Free Plex Pass"
    await film_made_available(app, alice_client, monkeypatch, title=title, channel=channel)
    [sent] = await webhook.wait_for(1)
    body = sent.body.decode()
    assert "<!" not in body, body
    assert "&lt;!channel&gt;" in body
