"""Webhook bodies as Overseerr v1.34 sends them with its default JSON template.

A port of `server/lib/notifications/agents/webhook.ts` (`KeyMap`, `parseKeys`) applied
to the default `jsonPayload` of `server/lib/settings.ts`, fed the notification payload
that `server/entity/MediaRequest.ts` (`sendNotification`), `server/subscriber/
MediaSubscriber.ts` (available) and `server/routes/settings/notifications.ts` (test)
build. So every substituted value is a string ('' when absent) and `media`, `request`,
`issue`, `comment` are null when the notification has none."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from medianest_simulators.base import JSONDict
from medianest_simulators.overseerr_data import (
    MEDIA_STATUS_NAMES,
    POSTER_BASE,
    Media,
    MediaRequest,
    User,
)

# The default template, as decoded from settings.ts (order and spelling kept).
DEFAULT_TEMPLATE = """{
  "notification_type": "{{notification_type}}",
  "event": "{{event}}",
  "subject": "{{subject}}",
  "message": "{{message}}",
  "image": "{{image}}",
  "{{media}}": {
    "media_type": "{{media_type}}",
    "tmdbId": "{{media_tmdbid}}",
    "tvdbId": "{{media_tvdbid}}",
    "status": "{{media_status}}",
    "status4k": "{{media_status4k}}"
  },
  "{{request}}": {
    "request_id": "{{request_id}}",
    "requestedBy_email": "{{requestedBy_email}}",
    "requestedBy_username": "{{requestedBy_username}}",
    "requestedBy_avatar": "{{requestedBy_avatar}}",
    "requestedBy_settings_discordId": "{{requestedBy_settings_discordId}}",
    "requestedBy_settings_telegramChatId": "{{requestedBy_settings_telegramChatId}}"
  },
  "{{issue}}": {
    "issue_id": "{{issue_id}}",
    "issue_type": "{{issue_type}}",
    "issue_status": "{{issue_status}}",
    "reportedBy_email": "{{reportedBy_email}}",
    "reportedBy_username": "{{reportedBy_username}}",
    "reportedBy_avatar": "{{reportedBy_avatar}}",
    "reportedBy_settings_discordId": "{{reportedBy_settings_discordId}}",
    "reportedBy_settings_telegramChatId": "{{reportedBy_settings_telegramChatId}}"
  },
  "{{comment}}": {
    "comment_message": "{{comment_message}}",
    "commentedBy_email": "{{commentedBy_email}}",
    "commentedBy_username": "{{commentedBy_username}}",
    "commentedBy_avatar": "{{commentedBy_avatar}}",
    "commentedBy_settings_discordId": "{{commentedBy_settings_discordId}}",
    "commentedBy_settings_telegramChatId": "{{commentedBy_settings_telegramChatId}}"
  },
  "{{extra}}": []
}"""

KeyMapValue = str | Callable[[JSONDict, str], str]


def _media_status(field_name: str) -> Callable[[JSONDict, str], str]:
    def status(payload: JSONDict, _: str) -> str:
        media = payload.get("media")
        return MEDIA_STATUS_NAMES[media[field_name]] if media else ""

    return status


# webhook.ts `KeyMap` (issue fields stay '' here: the simulator has no issues).
KEY_MAP: dict[str, KeyMapValue] = {
    "notification_type": lambda _, kind: kind,
    "event": "event",
    "subject": "subject",
    "message": "message",
    "image": "image",
    "notifyuser_username": "notifyUser.displayName",
    "notifyuser_email": "notifyUser.email",
    "notifyuser_avatar": "notifyUser.avatar",
    "notifyuser_settings_discordId": "notifyUser.settings.discordId",
    "notifyuser_settings_telegramChatId": "notifyUser.settings.telegramChatId",
    "media_tmdbid": "media.tmdbId",
    "media_tvdbid": "media.tvdbId",
    "media_type": "media.mediaType",
    "media_status": _media_status("status"),
    "media_status4k": _media_status("status4k"),
    "request_id": "request.id",
    "requestedBy_username": "request.requestedBy.displayName",
    "requestedBy_email": "request.requestedBy.email",
    "requestedBy_avatar": "request.requestedBy.avatar",
    "requestedBy_settings_discordId": "request.requestedBy.settings.discordId",
    "requestedBy_settings_telegramChatId": "request.requestedBy.settings.telegramChatId",
    "issue_id": "issue.id",
    "issue_type": lambda _, __: "",
    "issue_status": lambda _, __: "",
    "reportedBy_username": "issue.createdBy.displayName",
    "reportedBy_email": "issue.createdBy.email",
    "reportedBy_avatar": "issue.createdBy.avatar",
    "reportedBy_settings_discordId": "issue.createdBy.settings.discordId",
    "reportedBy_settings_telegramChatId": "issue.createdBy.settings.telegramChatId",
    "comment_message": "comment.message",
    "commentedBy_username": "comment.user.displayName",
    "commentedBy_email": "comment.user.email",
    "commentedBy_avatar": "comment.user.avatar",
    "commentedBy_settings_discordId": "comment.user.settings.discordId",
    "commentedBy_settings_telegramChatId": "comment.user.settings.telegramChatId",
}
OBJECT_KEYS = ("media", "request", "issue", "comment")


def webhook_payload(
    notification_type: str, request: MediaRequest | None, media: Media | None
) -> JSONDict:
    """The body Overseerr POSTs for this notification with the default template."""
    payload = notification(notification_type, request, media)
    rendered = parse_keys(json.loads(DEFAULT_TEMPLATE), payload, notification_type)
    assert isinstance(rendered, dict)
    return rendered


def notification(
    notification_type: str, request: MediaRequest | None, media: Media | None
) -> JSONDict:
    """The `NotificationPayload` Overseerr builds (only what the template reads)."""
    if media is None:  # settings/notifications.ts: the test notification
        return {
            "subject": "Test Notification",
            "message": "Check check, 1, 2, 3. Are we coming in clear?",
        }
    title, is_tv = media.title, media.title.media_type == "tv"
    kind = "Series" if is_tv else "Movie"
    events = {
        "MEDIA_PENDING": f"New {kind} Request",
        "MEDIA_AUTO_APPROVED": f"{kind} Request Automatically Approved",
        "MEDIA_APPROVED": f"{kind} Request Approved",
        "MEDIA_DECLINED": f"{kind} Request Declined",
        "MEDIA_FAILED": f"{kind} Request Failed",
        "MEDIA_AVAILABLE": f"{kind} Request Now Available",
    }
    payload: JSONDict = {
        "event": events.get(notification_type),
        "subject": f"{title.title} ({title.year})",
        "message": truncate(title.overview),
        "image": f"{POSTER_BASE}/sim{title.tmdb_id}.jpg",
        "media": {
            "tmdbId": title.tmdb_id,
            "tvdbId": title.tvdb_id,
            "mediaType": title.media_type,
            "status": media.status,
            "status4k": media.status4k,
        },
    }
    if request is not None:
        payload["request"] = {"id": request.id, "requestedBy": _user(request.requested_by)}
        if is_tv:
            seasons = ", ".join(str(n) for n in request.seasons)
            payload["extra"] = [{"name": "Requested Seasons", "value": seasons}]
    return payload


def parse_keys(template: Any, payload: JSONDict, notification_type: str) -> Any:
    """webhook.ts `parseKeys`: `{{media}}`-style keys become the object or null, strings
    get every KeyMap placeholder replaced (first occurrence, like String.replace)."""
    if isinstance(template, list):
        return [parse_keys(v, payload, notification_type) for v in template]
    if not isinstance(template, dict):
        return template
    result: JSONDict = {}
    for key, value in template.items():
        if key == "{{extra}}":
            key, value = "extra", payload.get("extra") or []
        elif key.strip("{}") in OBJECT_KEYS and key.startswith("{{"):
            key = key.strip("{}")
            value = value if payload.get(key) else None
        if isinstance(value, str):
            for name, source in KEY_MAP.items():
                replacement = (
                    source(payload, notification_type)
                    if callable(source)
                    else _get(payload, source)
                )
                value = value.replace("{{" + name + "}}", replacement, 1)
        elif value is not None:
            value = parse_keys(value, payload, notification_type)
        result[key] = value
    return result


def truncate(text: str, length: int = 500) -> str:
    """lodash `truncate(text, {length, separator: /\\s/, omission: '…'})`."""
    if len(text) <= length:
        return text
    cut = text[: length - 1]
    space = max(cut.rfind(" "), cut.rfind("\n"), cut.rfind("\t"))
    return (cut[:space] if space > 0 else cut) + "…"


def _user(user: User) -> JSONDict:
    return {
        "displayName": user.username,
        "email": user.email,
        "avatar": "/os_icon.svg",
        "settings": {"discordId": None, "telegramChatId": None},
    }


def _get(payload: JSONDict, path: str) -> str:
    """lodash `get(payload, path) ?? ''`, as JavaScript turns it into a string."""
    value: Any = payload
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class TemplateRejected(Exception):
    """`POST .../webhook/test` could not `JSON.parse` its `options.jsonPayload`: the route's
    500 carries the parser's message."""


MISSING = object()  # `options.jsonPayload` absent: JavaScript's `undefined`


def render_test_notification(json_payload: object) -> JSONDict | None:
    """What `POST /settings/notifications/webhook/test` (routes/settings/notifications.ts)
    and the agent's `buildPayload` (agents/webhook.ts) do with `options.jsonPayload`: the
    route `JSON.parse`s it (a syntax error: `TemplateRejected`) and keeps it base64; the
    agent decodes it and `JSON.parse`s it twice. So the field is the template as a JSON
    string literal, as Overseerr's own form sends it (`JSON.stringify(values.jsonPayload)`,
    NotificationsWebhook/index.tsx) and settings.ts's default decodes to. None: the agent
    failed (the route's 500 "Failed to send webhook notification.")."""
    text = json_payload if isinstance(json_payload, str) else _js_string(json_payload)
    try:
        first = json.loads(text)
    except ValueError:
        raise TemplateRejected(_syntax_error(text)) from None
    try:
        template = json.loads(first if isinstance(first, str) else _js_string(first))
    except ValueError:
        return None
    if not isinstance(template, dict):
        return None  # parseKeys walks an object's keys
    body = parse_keys(template, notification("TEST_NOTIFICATION", None, None), "TEST_NOTIFICATION")
    return body if isinstance(body, dict) else None


def _js_string(value: object) -> str:
    """JavaScript's `String(value)`, which `JSON.parse` applies to what is not a string."""
    if value is MISSING:
        return "undefined"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if item is None else _js_string(item) for item in value)
    return json.dumps(value)  # null, true/false, numbers


def _syntax_error(text: str) -> str:
    """V8's message (Node 20) for text that is not JSON."""
    if not text.strip():
        return "Unexpected end of JSON input"
    if text in ("undefined", "[object Object]"):
        return f'"{text}" is not valid JSON'
    return f"Unexpected token '{text.strip()[0]}', \"{text[:10]}\"... is not valid JSON"
