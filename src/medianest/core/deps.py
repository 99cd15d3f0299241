"""`SessionDep`, the database session every router shares (the context's dependency,
`ContextDep`, lives with the typed context in `medianest.context`), and `LazySessionDep`,
the same session made only if asked for (what the sign-in dependencies take: a caller
found in the session cache needs none).

The session dependency commits once after the endpoint returned, or rolls back;
services never commit.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.context import CoreContext
from medianest.core.errors import MediaNestError, ServiceUnavailable
from medianest.db.engine import LazySession, bound_session, used_connection


def _database_unreachable(exc: Exception) -> bool:
    """Whether a database error means "cannot reach it" (→ 503) rather than a bad query."""
    if isinstance(exc, OperationalError | OSError):
        return True
    assert isinstance(exc, DBAPIError)
    # No statement: it failed while connecting. SQLAlchemy does not flag every asyncpg
    # error of a connection cut during its handshake as a disconnect (found by a fault test).
    return exc.connection_invalidated or exc.statement is None


def _touched_database(session: AsyncSession) -> bool:
    """Whether there is anything to commit: a connection was used or objects changed.

    A request answered from caches (a cached session, a cached aggregate) never
    connects; skipping its empty commit saves two greenlet round trips per request.
    """
    sync = session.sync_session
    return used_connection(sync) or bool(sync.new or sync.dirty or sync.deleted)


async def open_request_database(request: Request) -> AsyncIterator[LazySession]:
    """The request's database session, made when something first asks for it; committed
    or rolled back here, once, if it was made."""
    ctx: CoreContext = request.app.state.ctx
    lazy = LazySession(ctx.session_factory)
    try:
        # Bound so that slow work (hashing, outbound calls) can give its idle
        # connection back to the pool first (db/engine.py).
        with bound_session(lazy):
            yield lazy
        if lazy.opened is not None and _touched_database(lazy.opened):
            await lazy.opened.commit()
    except (OperationalError, DBAPIError, OSError) as exc:
        # The connection may already be gone: a failing rollback must not turn the
        # 503 below into a 500 (found by a fault test).
        if lazy.opened is not None:
            with contextlib.suppress(DBAPIError, OSError):
                await lazy.opened.rollback()
        if not _database_unreachable(exc):
            raise
        raise ServiceUnavailable(
            "The database is unavailable. Try again shortly.", details={"service": "database"}
        ) from exc
    except MediaNestError as exc:
        if lazy.opened is not None:
            if exc.keeps_writes and _touched_database(lazy.opened):
                await lazy.opened.commit()
            else:
                await lazy.opened.rollback()
        raise
    except BaseException:
        if lazy.opened is not None:
            await lazy.opened.rollback()
        raise
    finally:
        if lazy.opened is not None:
            # Shielded, as `async with session` closes it: a cancelled request still
            # gives its connection back.
            await asyncio.shield(lazy.opened.close())


# scope="function": commit before the response is sent. With FastAPI's default
# ("request") the commit ran after the client already had its answer, so a sign-in
# followed at once by another request could miss the new session (and a failed
# commit could no longer become an error response).
LazySessionDep = Annotated[LazySession, Depends(open_request_database, scope="function")]


async def get_db_session(lazy: LazySessionDep) -> AsyncSession:
    # One session per request, shared by every dependency that asks for it.
    return lazy.session()


SessionDep = Annotated[AsyncSession, Depends(get_db_session)]
