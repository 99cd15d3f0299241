"""Invalid input is reported alike by the subscribe and download forms and by the JSON API:
a value the input schema refuses is a 422 from both, the page shows the sentence next to
the field (the API's own, or the form's words for an empty link), and nothing is stored."""

from __future__ import annotations

import httpx
from markupsafe import escape
from sqlalchemy import func, select

from medianest.app import MediaNestApp
from medianest.db.engine import session_scope
from medianest.youtube.models import YoutubeDownload, YoutubeSubscription
from medianest_simulators.media_server import MediaServerSimulator

PAGE = {"HX-Request": "1"}


async def _count(app: MediaNestApp, model: type[YoutubeDownload | YoutubeSubscription]) -> int:
    async with session_scope(app.ctx.session_factory) as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


def _api_sentence(answer: httpx.Response, field: str) -> str:
    fields = answer.json()["error"]["details"]["fields"]
    sentence = next(f["message"] for f in fields if f["field"] == field)
    return str(escape(sentence))  # as the page's template writes it


async def test_the_subscribe_form_refuses_what_the_api_refuses_with_422(
    app: MediaNestApp, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    link = media.feed_url()
    refused = (
        ("quality", {"url": link, "quality": "8k"}, {"url": link, "quality": "8k"}),
        ("delivery", {"url": link, "delivery": "email"}, {"url": link, "delivery": "email"}),
        (
            "intervalHours",
            {"url": link, "intervalHours": 0.5},
            {"url": link, "intervalHours": "0.5"},
        ),
        (
            "intervalHours",
            {"url": link, "intervalHours": "soon"},
            {"url": link, "intervalHours": "soon"},
        ),
    )
    for field, body, form in refused:
        api = await alice_client.post("/api/youtube/subscriptions", json=body)
        page = await alice_client.post("/youtube/subscriptions", data=form, headers=PAGE)
        assert api.status_code == page.status_code == 422, (field, api.text, page.text)
        assert 'data-error-code="VALIDATION_ERROR"' in page.text
        assert _api_sentence(api, field) in page.text, (field, page.text)
    # An empty link: the form says what to paste; the API names the field.
    api = await alice_client.post("/api/youtube/subscriptions", json={"url": ""})
    page = await alice_client.post("/youtube/subscriptions", data={"url": ""}, headers=PAGE)
    assert api.status_code == page.status_code == 422
    assert _api_sentence(api, "url") == "Required."  # the form words it for its one box
    assert "Paste a playlist or channel link." in page.text
    assert await _count(app, YoutubeSubscription) == 0


async def test_the_download_form_refuses_what_the_api_refuses_with_422(
    app: MediaNestApp, alice_client: httpx.AsyncClient, media: MediaServerSimulator
) -> None:
    link = media.feed_url()
    for field, value in (("quality", "8k"), ("delivery", "email")):
        api = await alice_client.post("/api/youtube/download", json={"url": link, field: value})
        page = await alice_client.post(
            "/youtube/download", data={"url": link, field: value}, headers=PAGE
        )
        assert api.status_code == page.status_code == 422, (field, api.text, page.text)
        assert 'data-error-code="VALIDATION_ERROR"' in page.text
        assert _api_sentence(api, field) in page.text, (field, page.text)
    api = await alice_client.post("/api/youtube/download", json={"url": ""})
    page = await alice_client.post("/youtube/download", data={"url": ""}, headers=PAGE)
    assert api.status_code == page.status_code == 422
    assert "Paste a YouTube link." in page.text
    assert await _count(app, YoutubeDownload) == 0
