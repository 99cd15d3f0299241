"""The language titles and overviews are asked in: the one decision, from the browser.

Overseerr gives TMDB `(req.query.language as string) ?? req.locale` (routes/search.ts:23,32,
movie.ts:20, tv.ts:17 in sct/overseerr; search.ts:23,32, movie.ts:22, tv.ts:31 in
seerr-team/seerr), and `req.locale` is the calling user's own Overseerr language, else
the app's default `settings.main.locale` (middleware/auth.ts:36-38 in both; 'en' until an
admin changes it, lib/settings.ts:303). MediaNest calls as the API key's admin, so always
sending `language=en` showed every household English, whatever anyone chose.

Chosen here: the browser's `Accept-Language` (what each person set up on their own
device; MediaNest keeps no per-user language), best match among the locales Overseerr
offers (src/context/LanguageContext.tsx `availableLanguages`: Overseerr's 32, Seerr adds
es-MX and tr), as TMDB takes them (`de`, `pt-BR`, `zh-TW`). Nothing that matches: None,
so no `language` is sent and Overseerr answers in its own configured locale, not a
forced `en`. Never an empty `language=`: Overseerr's `??` would keep "" and TMDB would
answer its default English. The header is the caller's to write: only the first
`MAX_HEADER_CHARS` characters and `MAX_RANGES` ranges are read, a range that is not a
well-formed tag (`../`, quotes, anything but letters, digits and `-`) or quality is
skipped, and only a locale of the list is ever returned, never the header's text.
"""

from __future__ import annotations

import re

# src/context/LanguageContext.tsx, sct/overseerr 42-171 and seerr-team/seerr 9-146.
SUPPORTED_LOCALES = (
    *("bg", "ca", "cs", "da", "de", "en", "es", "es-MX", "fi", "fr", "he", "hi", "hr"),
    *("it", "lt", "hu", "nl", "nb-NO", "pl", "pt-BR", "pt-PT", "sq", "sv", "el", "ro"),
    *("ru", "sr", "tr", "ar", "ja", "ko", "uk", "zh-TW", "zh-CN"),
)
_BY_LOWER = {code.lower(): code for code in SUPPORTED_LOCALES}
# Tags whose language Overseerr offers under another code (CLDR: `pt` is Brazil's, `zh`
# Simplified; Traditional is Taiwan's, Hong Kong's and Macao's; Norwegian is Bokmål).
_ALIASES = {
    "pt": "pt-BR",
    "zh": "zh-CN",
    "zh-hans": "zh-CN",
    "zh-hant": "zh-TW",
    "zh-hk": "zh-TW",
    "zh-mo": "zh-TW",
    "nb": "nb-NO",
    "no": "nb-NO",
    "nn": "nb-NO",
    "es-419": "es-MX",
    "iw": "he",  # the old code some browsers still send
}
MAX_HEADER_CHARS = 512
MAX_RANGES = 16
_TAG = re.compile(r"[A-Za-z]{1,8}(?:-[A-Za-z0-9]{1,8})*")
_QUALITY = re.compile(r"q=(0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)", re.IGNORECASE)


def title_language(accept_language: str | None) -> str | None:
    """The Overseerr locale to ask titles in for this `Accept-Language` (RFC 9110 12.5.4:
    highest quality first, the header's order among equals), or None: let Overseerr
    use its own."""
    if not accept_language:
        return None
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate(accept_language[:MAX_HEADER_CHARS].split(",")[:MAX_RANGES]):
        tag, _, params = part.strip().partition(";")
        quality = _quality(params)
        if quality is None or quality <= 0 or not _TAG.fullmatch(tag.strip()):
            continue
        ranked.append((-quality, position, tag.strip()))
    for _, _, tag in sorted(ranked):
        locale = _locale(tag)
        if locale is not None:
            return locale
    return None


def _quality(params: str) -> float | None:
    """The range's `q` (1 when absent); None when it is malformed."""
    params = params.strip()
    if not params:
        return 1.0
    found = _QUALITY.fullmatch(params.replace(" ", ""))
    return float(found.group(1)) if found else None


def _locale(tag: str) -> str | None:
    """The offered locale for one tag: itself, an alias, or its language (`de-AT` → `de`,
    `zh-Hant-TW` → `zh-TW` by its script)."""
    lower = tag.lower()
    subtags = lower.split("-")
    for candidate in (lower, "-".join(subtags[:2]), subtags[0]):
        found = _BY_LOWER.get(candidate) or _ALIASES.get(candidate)
        if found is not None:
            return found
    return None
