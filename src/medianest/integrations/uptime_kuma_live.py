"""The live Uptime Kuma connection: Kuma's own Socket.IO API (2.x and 1.23), as its UI uses it.

Signs in with `login` and keeps the JWT for `loginByToken` on reconnects (Kuma allows
~20 password logins a minute); a Kuma with "Disable Auth" signs the socket in itself
(`autoLogin`). Keeps each listed monitor's last status from `monitorList`, its updates,
`heartbeatList` and `heartbeat`, calling `on_change` after each (`uptime_kuma_events.py`).
Reconnects with backoff. Refusals are told apart: a wrong password, a 2FA account, and a
Kuma with no socket login (Kuma 3's cookie sessions). See docs/uptime-kuma-real.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import socketio
import socketio.exceptions

from medianest.core.logging import get_logger
from medianest.integrations.outcomes import ServiceHealth
from medianest.integrations.tls import tls_problem
from medianest.integrations.uptime_kuma_events import (
    KumaEvents,
    LiveMonitor,
    close_socket,
    refusal_text,
)
from medianest.integrations.uptime_kuma_transport import new_client, open_socket

log = get_logger(__name__)

LinkState = Literal["connecting", "live", "refused", "disconnected", "stopped"]
SignedInBy = Literal["password", "token", "auto"]
CONNECT_TIMEOUT_SECONDS = 5.0
ACK_TIMEOUT_SECONDS = 10.0
# Kuma answers a sign-in only after afterLogin has sent every list and history, which
# takes from seconds to minutes on a big or slow Kuma (louislam/uptime-kuma#3497, #7079).
LOGIN_ANSWER_SECONDS = 300.0
BACKOFF_FIRST_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0
# A refused sign-in will be refused again: retry rarely (Kuma counts failed logins).
REFUSED_RETRY_SECONDS = 60.0
OLD_KUMA_PROMPT_SECONDS = 1.0  # 1.23 has no `loginRequired`; its `autoLogin` comes at once

TWO_FACTOR_REFUSAL = (
    "This Uptime Kuma account has two-factor authentication, which MediaNest cannot "
    "answer: use an account without 2FA, or the metrics or status-page source."
)
NO_SOCKET_LOGIN = (
    "Uptime Kuma answered no socket sign-in (Kuma 3 replaced it with cookie sessions): "
    "use the metrics or status-page source."
)


class KumaSignInRefused(Exception):
    """Kuma answered the sign-in with a refusal; `retry_soon` for a passing one (rate limit)."""

    def __init__(self, message: str, *, retry_soon: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.retry_soon = retry_soon


class KumaLiveLink:
    """One signed-in Socket.IO connection to Kuma, kept up by `run()` until `stop()`."""

    def __init__(
        self,
        url: str,
        *,
        username: str,
        password: str,
        on_change: Callable[[], None] | None = None,
        connect_timeout: float = CONNECT_TIMEOUT_SECONDS,
        ack_timeout: float = ACK_TIMEOUT_SECONDS,
        login_timeout: float = LOGIN_ANSWER_SECONDS,
        backoff_max: float = BACKOFF_MAX_SECONDS,
        refused_retry: float = REFUSED_RETRY_SECONDS,
        ca_bundle: Path | None = None,
    ) -> None:
        self.url = url
        self.ca_bundle = ca_bundle  # trusted as by the HTTP clients (MEDIANEST_CA_BUNDLE)
        self.username = username
        self._password = password
        self.on_change = on_change
        self.connect_timeout = connect_timeout
        self.ack_timeout = ack_timeout
        self.login_timeout = login_timeout
        self.backoff_max = backoff_max
        self.refused_retry = refused_retry
        self.state: LinkState = "disconnected"
        self.error: str | None = None
        self.events = KumaEvents(self._changed)
        self.last_event_at: float | None = None  # time.time() of Kuma's last message
        self.connected_at: float | None = None
        self.token: str | None = None
        self.sessions = 0  # successful sign-ins, for tests and logs
        self.signed_in_by: SignedInBy | None = None  # how the last sign-in went
        # Kuma asked for the sign-in and its answer is awaited (it is sending its lists).
        self.signing_in = False
        self.polling = False  # a proxy refused the WebSocket: long-polling (upgraded if it can)
        self._answer: asyncio.Future[Any] | None = None
        self._stopping = asyncio.Event()
        self._sio: socketio.AsyncClient | None = None

    # --- lifecycle ---------------------------------------------------------------------
    async def run(self) -> None:
        """Connect, sign in and listen; after a drop wait with backoff and do it again."""
        delay = BACKOFF_FIRST_SECONDS
        while not self._stopping.is_set():
            try:
                await self.session()
                delay = BACKOFF_FIRST_SECONDS  # it was up: start over from a short wait
                wait = delay
            except KumaSignInRefused as exc:
                self._set_state("refused", exc.message)
                wait = delay if exc.retry_soon else self.refused_retry
            except (socketio.exceptions.SocketIOError, TimeoutError, OSError) as exc:
                self._set_state("disconnected", await _connection_problem(exc, self.url))
                wait = delay
            delay = min(self.backoff_max, delay * 2)
            with contextlib.suppress(TimeoutError):
                # Jitter: instances restarted together do not all reconnect at once.
                await asyncio.wait_for(self._stopping.wait(), wait * random.uniform(0.8, 1.2))
        self._set_state("stopped", None)

    async def stop(self) -> None:
        self._stopping.set()
        sio = self._sio
        if sio is not None:
            with contextlib.suppress(Exception):
                await sio.disconnect()

    async def session(self) -> None:
        """One connection: sign in, then return when it drops (or raise why it failed)."""
        self._set_state("connecting", self.error)
        dropped = asyncio.Event()
        sio = await self._open(dropped)
        try:
            await self._enter(sio)
            self.sessions += 1
            self.connected_at = time.time()
            self._set_state("live", None)
            log.info("kuma_live_connected", url=self.url, monitors=len(self.monitors))
            stop_task = asyncio.create_task(self._stopping.wait())
            drop_task = asyncio.create_task(dropped.wait())
            try:
                await asyncio.wait({stop_task, drop_task}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop_task.cancel()
                drop_task.cancel()
            if not self._stopping.is_set():
                raise ConnectionResetError("Uptime Kuma closed the live connection.")
        finally:
            self._sio = None
            await close_socket(sio)

    async def _open(self, dropped: asyncio.Event) -> socketio.AsyncClient:
        """A connected client: by WebSocket, or by long-polling where a proxy refuses the
        WebSocket (kept for the next connections, which still try the upgrade)."""
        first: Exception | None = None
        for polling in (True,) if self.polling else (False, True):
            sio = new_client(self.ca_bundle)
            self._install_handlers(sio, dropped)
            self._sio = sio
            try:
                await open_socket(sio, self.url, polling=polling, wait_seconds=self.connect_timeout)
            except BaseException as exc:
                self._sio = None
                await close_socket(sio)
                if isinstance(exc, socketio.exceptions.ConnectionError) and not polling:
                    first = exc
                    continue
                if first is not None and isinstance(exc, Exception):
                    # Kuma is away: the WebSocket's reason, with its cause kept (a refused
                    # certificate is named from it, integrations/tls.py).
                    raise first from first.__cause__ or first.__context__
                raise
            self.polling = polling
            dropped.clear()
            return sio
        raise AssertionError("unreachable")

    # --- signing in --------------------------------------------------------------------
    async def _enter(self, sio: socketio.AsyncClient) -> None:
        """Signed in as Kuma asks, with this connection's list and version in."""
        # Kuma attaches its handlers only after its first `info`; earlier emits vanish.
        await asyncio.wait_for(self.events.first_info.wait(), self.connect_timeout)
        # Then Kuma 2.x says `loginRequired`, or `autoLogin` after sending the lists when
        # its "Disable Auth" is on (a login would still check the password). A Kuma that
        # says neither (1.23 with auth, Kuma 3) is asked anyway after the wait.
        old = (self.version or "").startswith("1.")  # as an earlier connection found it
        wait = min(OLD_KUMA_PROMPT_SECONDS, self.connect_timeout) if old else self.connect_timeout
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.events.prompted.wait(), wait)
        if self.events.auto_login.is_set():
            self.signed_in_by = "auto"
        else:
            await self._sign_in(sio, asked=self.events.prompted.is_set())
        # 1.23 answers before sending the lists, version and (0.5 s on) the histories
        # (server.js:365, :1725; 2.x after them, :474): live once they are in.
        with contextlib.suppress(TimeoutError):
            lists = (self.events.histories.wait(), self.events.versioned.wait())
            await asyncio.wait_for(asyncio.gather(*lists), self.connect_timeout)

    async def _sign_in(self, sio: socketio.AsyncClient, *, asked: bool) -> None:
        if self.token:
            answer = await self._call(sio, "loginByToken", self.token, asked=asked)
            if isinstance(answer, dict) and answer.get("ok"):
                self.signed_in_by = "token"
                return
            self.token = None  # the password changed, or Kuma's secret did: use the password
        login = {"username": self.username, "password": self._password, "token": ""}
        answer = await self._call(sio, "login", login, asked=asked)
        if not isinstance(answer, dict):  # an empty ack: no login handler there either
            raise KumaSignInRefused(NO_SOCKET_LOGIN)
        if answer.get("tokenRequired"):
            raise KumaSignInRefused(TWO_FACTOR_REFUSAL)
        if not answer.get("ok"):
            msg = str(answer.get("msg") or "")
            # "Too frequently, try again later." is Kuma's rate limit: it passes.
            raise KumaSignInRefused(refusal_text(msg), retry_soon="frequently" in msg.lower())
        token = answer.get("token")
        self.token = token if isinstance(token, str) else None
        self.signed_in_by = "password"

    async def _call(self, sio: socketio.AsyncClient, event: str, data: Any, *, asked: bool) -> Any:
        """Kuma's answer to a sign-in. A Kuma that asked for it (`loginRequired`) answers
        once its lists are sent: it gets `login_timeout`, and silence then is a timeout.
        One that did not ask and does not answer has no socket login (Kuma 3)."""
        answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_answer(*args: Any) -> None:
            if not answer.done():
                answer.set_result(args[0] if args else None)

        self._answer, self.signing_in = answer, asked
        try:
            await sio.emit(event, data, callback=on_answer)
            return await asyncio.wait_for(answer, self.login_timeout if asked else self.ack_timeout)
        except TimeoutError:
            if asked:
                raise TimeoutError(f"no answer to {event} from Uptime Kuma") from None
            raise KumaSignInRefused(NO_SOCKET_LOGIN) from None
        finally:
            self._answer, self.signing_in = None, False

    # --- what Kuma pushes --------------------------------------------------------------
    def _install_handlers(self, sio: socketio.AsyncClient, dropped: asyncio.Event) -> None:
        def on_disconnect(*_: Any) -> None:
            dropped.set()
            if self._answer is not None and not self._answer.done():  # no answer will come
                self._answer.set_exception(ConnectionResetError("Uptime Kuma closed the link."))

        sio.on("disconnect", on_disconnect)
        self.events.listen(sio)

    @property
    def monitors(self) -> dict[int, LiveMonitor]:
        """Each listed monitor's last known state, by id."""
        return self.events.monitors

    @property
    def version(self) -> str | None:
        return self.events.version

    # --- notifications -----------------------------------------------------------------
    def _changed(self) -> None:
        self.last_event_at = time.time()
        if self.on_change is not None:
            self.on_change()

    def _set_state(self, state: LinkState, error: str | None) -> None:
        changed = (state, error) != (self.state, self.error)
        self.state, self.error = state, error
        if changed:
            if state in ("refused", "disconnected"):
                log.warning("kuma_live_down", state=state, error=error)
            if self.on_change is not None:
                self.on_change()


async def _connection_problem(exc: BaseException, url: str) -> str:
    # engineio's "Connection error": no answer, or a refused upgrade (an HTTPS-only port?).
    unanswered = isinstance(exc, socketio.exceptions.ConnectionError)
    if problem := await tls_problem("Uptime Kuma", httpx.URL(url), exc, unanswered=unanswered):
        return problem[1]
    if isinstance(exc, TimeoutError):
        return "Uptime Kuma did not answer in time."
    if isinstance(exc, ConnectionResetError):
        return "Uptime Kuma closed the live connection."
    return "Uptime Kuma is unreachable."


async def sign_in_once(
    url: str,
    *,
    username: str,
    password: str,
    wait_seconds: float = CONNECT_TIMEOUT_SECONDS,
    ca_bundle: Path | None = None,
) -> KumaLiveLink:
    """Connect, sign in, take the first lists and disconnect: the admin's "Test connection"
    and a check while no live link runs. Raises KumaSignInRefused or a connection error."""
    link = KumaLiveLink(
        url,
        username=username,
        password=password,
        connect_timeout=wait_seconds,
        ack_timeout=wait_seconds,
        login_timeout=wait_seconds,  # a check is bounded; a slow Kuma "did not answer in time"
        ca_bundle=ca_bundle,
    )
    signed_in = asyncio.Event()
    link.on_change = lambda: signed_in.set() if link.state == "live" else None
    task = asyncio.create_task(link.session())
    waiter = asyncio.create_task(signed_in.wait())
    try:
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if task.done():
            task.result()  # raises why it did not sign in
    finally:
        waiter.cancel()
        await link.stop()
        with contextlib.suppress(Exception):
            await task
    return link


@dataclass(frozen=True)
class KumaSignIn:
    """Where and as whom the live connection signs in (never log the password)."""

    url: str
    username: str
    password: str = field(repr=False)
    ca_bundle: Path | None = None


async def socket_health(
    sign_in: KumaSignIn, *, wait_seconds: float = CONNECT_TIMEOUT_SECONDS
) -> tuple[ServiceHealth, KumaLiveLink | None]:
    """One sign-in as a check: online with Kuma's version and monitor count and the link
    holding the first lists, degraded when Kuma refused, offline when unreachable."""
    started = time.monotonic()
    try:
        link = await sign_in_once(
            sign_in.url,
            username=sign_in.username,
            password=sign_in.password,
            wait_seconds=wait_seconds,
            ca_bundle=sign_in.ca_bundle,
        )
    except KumaSignInRefused as exc:
        elapsed = round((time.monotonic() - started) * 1000, 1)
        return ServiceHealth(status="degraded", response_time_ms=elapsed, error=exc.message), None
    except (socketio.exceptions.SocketIOError, TimeoutError, OSError) as exc:
        return ServiceHealth(
            status="offline", error=await _connection_problem(exc, sign_in.url)
        ), None
    elapsed = round((time.monotonic() - started) * 1000, 1)
    health = ServiceHealth(
        status="online",
        response_time_ms=elapsed,
        version=link.version,
        monitor_count=sum(1 for m in link.monitors.values() if m.active),
    )
    return health, link
