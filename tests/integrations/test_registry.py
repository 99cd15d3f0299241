"""The integrations registry on a real database: services seeded from the environment on
first start, one Plex client identifier per install, per-user Plex clients, and changes
made by another instance picked up without a restart."""

from __future__ import annotations

import ssl

from sqlalchemy import select

from medianest.db.engine import session_scope
from medianest.integrations.models import ServiceConfig
from medianest.integrations.service_store import CLIENT_IDENTIFIER_KEY
from medianest.platform.models import SystemSetting
from medianest_simulators.overseerr_data import API_KEY as OVERSEERR_KEY
from medianest_simulators.plextv_models import OWNER_TOKEN
from medianest_simulators.uptime_kuma import API_KEY as KUMA_KEY
from tests.factories.users import prepare_bootstrap_admin, signed_in_client


def env(plex, overseerr, kuma, plextv) -> dict[str, object]:
    return {
        "plex_tv_url": plextv.url,
        "plex_url": plex.url,
        "plex_token": OWNER_TOKEN,
        "overseerr_url": overseerr.url,
        "overseerr_api_key": OVERSEERR_KEY,
        "uptime_kuma_url": kuma.url,
        "uptime_kuma_api_key": KUMA_KEY,
    }


async def test_the_environment_seeds_every_service_on_first_start(
    app_factory, make_settings, plex, overseerr, kuma, plextv
):
    app = await app_factory(make_settings(**env(plex, overseerr, kuma, plextv)))
    integrations = app.ctx.integrations

    plex_client = await integrations.plex()
    overseerr_client = await integrations.overseerr()
    kuma_client = await integrations.uptime_kuma()

    assert plex_client is not None and (await plex_client.health_check()).status == "online"
    assert overseerr_client is not None and (await overseerr_client.status()).version
    assert kuma_client is not None and kuma_client.source == "metrics"
    assert len((await kuma_client.monitors()).monitors) == 3


async def test_without_service_settings_nothing_is_configured_but_plex_tv_is_there(app):
    integrations = app.ctx.integrations

    assert await integrations.plex() is None
    assert await integrations.overseerr() is None
    assert await integrations.uptime_kuma() is None
    assert integrations.plextv().http.base_url == app.ctx.settings.plex_tv_url


async def test_the_environment_does_not_override_a_configuration_already_saved(
    app_factory, make_settings, plex, overseerr, kuma, plextv
):
    await app_factory(make_settings(overseerr_url=overseerr.url))
    second = await app_factory(make_settings(**env(plex, overseerr, kuma, plextv)))

    async with session_scope(second.ctx.session_factory) as session:
        names = (await session.scalars(select(ServiceConfig.service_name))).all()
    assert names == ["overseerr"]
    assert await second.ctx.integrations.plex() is None


async def test_the_plex_client_identifier_is_created_once_per_install(app_factory, make_settings):
    first = await app_factory(make_settings())
    second = await app_factory(make_settings())

    identifier = first.ctx.integrations.client_identifier
    assert second.ctx.integrations.client_identifier == identifier
    async with session_scope(first.ctx.session_factory) as session:
        stored = await session.get(SystemSetting, CLIENT_IDENTIFIER_KEY)
    assert stored is not None and stored.value == identifier


async def test_plex_for_token_calls_the_same_server_with_the_users_token(
    app_factory, make_settings, plex, overseerr, kuma, plextv
):
    app = await app_factory(make_settings(**env(plex, overseerr, kuma, plextv)))
    integrations = app.ctx.integrations

    as_alice = await integrations.plex_for_token("alice-plex-token")
    again = await integrations.plex_for_token("alice-plex-token")
    await as_alice.identity()

    assert again is as_alice
    sent = plex.requests("/identity")[-1].headers
    assert sent["x-plex-token"] == "alice-plex-token"
    assert sent["x-plex-client-identifier"] == integrations.client_identifier
    owner = await integrations.plex()
    assert owner is not None and as_alice.http.breaker is owner.http.breaker


def tls_of(client) -> ssl.SSLContext:
    return client.http._http._transport._pool._ssl_context  # httpx's pool, as it connects


async def test_every_client_shares_one_verifying_tls_context(
    app_factory, make_settings, plex, overseerr, kuma, plextv
):
    app = await app_factory(make_settings(**env(plex, overseerr, kuma, plextv)))
    integrations = app.ctx.integrations
    clients = [
        await integrations.plex(),
        await integrations.overseerr(),
        await integrations.uptime_kuma(),
        await integrations.plex_for_token("alice-plex-token"),
        await integrations.plex_for_token("bob-plex-token"),
    ]

    contexts = {id(tls_of(client)) for client in clients}
    assert len(contexts) == 1  # the CA bundle is loaded once, not once per client
    shared = tls_of(clients[0])
    assert shared.verify_mode == ssl.CERT_REQUIRED and shared.check_hostname


async def test_a_client_opens_its_connection_pool_on_its_first_call(
    app_factory, make_settings, plextv
):
    app = await app_factory(make_settings(plex_tv_url=plextv.url))
    plextv_client = app.ctx.integrations.plextv()

    assert plextv_client.http._client is None  # built at start, called at a Plex sign-in
    pin = await plextv_client.create_pin()
    assert pin.id and plextv_client.http._client is not None


async def test_a_change_saved_on_another_instance_is_picked_up_without_a_restart(
    app_factory, make_settings, overseerr
):
    one = await app_factory(make_settings())
    other = await app_factory(make_settings())
    watcher = other.ctx.integrations
    watcher.version_check_seconds = 0  # check on every access instead of every 5 s
    assert await watcher.overseerr() is None

    admin = await prepare_bootstrap_admin(one)
    async with await signed_in_client(one, admin) as client:
        saved = await client.put(
            "/api/admin/services/overseerr",
            json={"url": overseerr.url, "apiKey": OVERSEERR_KEY, "enabled": True},
        )
    assert saved.status_code == 200

    picked_up = await watcher.overseerr()
    assert picked_up is not None and picked_up.http.base_url == overseerr.url
