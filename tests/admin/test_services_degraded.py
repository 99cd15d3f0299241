"""Through the API: a configured service that is down, with nothing kept from before,
gives a 503 SERVICE_UNAVAILABLE envelope (stale serving is proven on the client, in
tests/integrations/test_last_known_good.py)."""

from __future__ import annotations

import math


async def test_with_nothing_cached_a_down_service_is_a_503_envelope(seeded_admin, plex):
    plex.set_fault("error")

    response = await seeded_admin.get("/api/plex/libraries")

    assert response.status_code == 503
    body = response.json()
    assert body["error"]["code"] == "SERVICE_UNAVAILABLE"
    assert body["error"]["details"]["service"] == "plex"


async def test_testing_a_kuma_whose_metrics_hold_nan_or_inf_reports_it_online_not_a_500(
    seeded_admin, kuma
):
    kuma.monitors["Website"].cert_days = math.inf

    response = await seeded_admin.post(
        "/api/admin/services/test",
        json={"name": "uptime_kuma", "url": kuma.url, "config": {"source": "metrics"}},
    )

    assert response.status_code == 200, response.text
    assert response.json()["data"]["status"] == "online"
