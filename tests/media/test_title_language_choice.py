"""The one decision of the title language (media/language.py): the best of the browser's
Accept-Language among the locales Overseerr offers, or None; hostile values never pass."""

from __future__ import annotations

import pytest

from medianest.media.language import SUPPORTED_LOCALES, title_language


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, None),
        ("", None),
        ("de-CH", "de"),
        ("pt", "pt-BR"),
        ("pt-pt", "pt-PT"),
        ("zh-Hant-HK", "zh-TW"),
        ("zh-SG", "zh-CN"),
        ("nb-NO", "nb-NO"),
        ("no", "nb-NO"),
        ("es-419", "es-MX"),
        ("en-US,en;q=0.9,de;q=0.8", "en"),
        ("ja;q=0.2, ko;q=0.9", "ko"),
        ("de;q=1.5, fr", "fr"),  # a quality above 1 is malformed
        ("%64%65", None),
        ("de\r\nX-Evil: 1", None),
        ("," * 100000 + "de", None),  # past the first characters read
    ],
)
def test_the_one_decision(header: str | None, expected: str | None) -> None:
    assert title_language(header) == expected


def test_every_offered_locale_is_chosen_as_itself() -> None:
    for locale in SUPPORTED_LOCALES:
        assert title_language(locale) == locale
        assert title_language(locale.lower()) == locale
