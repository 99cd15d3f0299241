"""The admin page's quota form (`/admin/quotas`): the same quotas as
`/api/admin/config/youtube`, an empty field meaning unlimited, refusals next to the field."""

from __future__ import annotations

import httpx

HX = {"HX-Request": "true", "Accept": "text/html"}
FIELDS = ("youtubeItemsPerDay", "youtubeGbPerWeek", "mediaRequestsPerWeek")
UNLIMITED = dict.fromkeys(FIELDS)


def quota_form(**values: str) -> dict[str, str]:
    form = {f"{role}.{name}": "" for role in ("user", "admin") for name in FIELDS}
    form.update({key.replace("__", "."): value for key, value in values.items()})
    return form


async def api_quotas(client: httpx.AsyncClient) -> dict[str, dict[str, float | None]]:
    quotas: dict[str, dict[str, float | None]] = (
        await client.get("/api/admin/config/youtube")
    ).json()["data"]["quotas"]
    return quotas


async def test_saved_quotas_are_the_apis_quotas_and_empty_means_unlimited(
    admin_client: httpx.AsyncClient,
) -> None:
    saved = await admin_client.put(
        "/admin/quotas",
        data=quota_form(user__youtubeItemsPerDay="20", user__youtubeGbPerWeek="2.5"),
        headers=HX,
    )
    assert saved.status_code == 200
    assert "Quotas saved." in saved.headers["hx-trigger"]
    assert 'name="user.youtubeItemsPerDay"' in saved.text and 'value="20"' in saved.text
    quotas = await api_quotas(admin_client)
    assert quotas["user"] == {**UNLIMITED, "youtubeItemsPerDay": 20, "youtubeGbPerWeek": 2.5}
    assert quotas["admin"] == UNLIMITED
    shown = await admin_client.get("/admin/quotas", headers=HX)
    assert 'value="2.5"' in shown.text
    # Emptying a field lifts that quota.
    await admin_client.put("/admin/quotas", data=quota_form(), headers=HX)
    quotas = await api_quotas(admin_client)
    assert quotas["user"]["youtubeItemsPerDay"] is None


async def test_a_refused_value_is_shown_next_to_its_field_and_nothing_is_saved(
    admin_client: httpx.AsyncClient,
) -> None:
    refused = await admin_client.put(
        "/admin/quotas",
        data=quota_form(user__youtubeItemsPerDay="5", admin__mediaRequestsPerWeek="-1"),
        headers=HX,
    )
    assert refused.status_code == 422
    assert 'id="quota-admin-mediaRequestsPerWeek" name="admin.mediaRequestsPerWeek"' in (
        refused.text
    )
    assert 'aria-invalid="true"' in refused.text
    assert "Enter 0 or more." in refused.text
    assert 'value="-1"' in refused.text  # what was typed stays in the field
    quotas = await api_quotas(admin_client)
    assert quotas["user"]["youtubeItemsPerDay"] is None


async def test_a_fraction_for_a_count_is_refused_in_plain_words(
    admin_client: httpx.AsyncClient,
) -> None:
    refused = await admin_client.put(
        "/admin/quotas", data=quota_form(user__youtubeItemsPerDay="2.5"), headers=HX
    )
    assert refused.status_code == 422
    assert "Enter a whole number, like 3." in refused.text
    assert "Input should be" not in refused.text and "unable to parse" not in refused.text
    api = await admin_client.put(
        "/api/admin/config/youtube", json={"quotas": {"user": {"youtubeItemsPerDay": "2.5"}}}
    )
    assert api.status_code in (400, 422)
    messages = [f["message"] for f in api.json()["error"]["details"]["fields"]]
    assert messages == ["Enter a whole number, like 3."]


async def test_only_admins_open_or_change_the_quotas(
    client: httpx.AsyncClient, alice_client: httpx.AsyncClient
) -> None:
    assert (await alice_client.get("/admin/quotas", headers=HX)).status_code == 403
    refused = await alice_client.put("/admin/quotas", data=quota_form(), headers=HX)
    assert refused.status_code == 403
    anonymous = await client.get("/admin/quotas", headers=HX)
    assert anonymous.status_code == 204 and "hx-redirect" in anonymous.headers


async def test_an_anonymous_change_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, admin_client: httpx.AsyncClient
) -> None:
    refused = await client.put(
        "/admin/quotas", data=quota_form(user__youtubeItemsPerDay="1"), headers=HX
    )
    # As every page action: sent to sign in (HX-Redirect), nothing done.
    assert refused.status_code == 204
    assert refused.headers["hx-redirect"] == "/login?next=/admin/quotas"
    assert (await api_quotas(admin_client))["user"] == UNLIMITED
