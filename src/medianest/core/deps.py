"""`SessionDep`, the database session every router shares (the context's dependency,
`ContextDep`, lives with the typed context in `medianest.context`).

The session dependency commits once after the endpoint returned, or rolls back;
services never commit.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.core.context import CoreContext
from medianest.core.errors import MediaNestError, ServiceUnavailable
from medianest.db.engine import bound_session, used_connection


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


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    # One session per request, shared by every dependency that asks for it.
    ctx: CoreContext = request.app.state.ctx
    async with ctx.session_factory() as session:
        try:
            # Bound so that slow work (hashing, outbound calls) can give its idle
            # connection back to the pool first (db/engine.py).
            with bound_session(session):
                yield session
            if _touched_database(session):
                await session.commit()
        except (OperationalError, DBAPIError, OSError) as exc:
            # The connection may already be gone: a failing rollback must not turn the
            # 503 below into a 500 (found by a fault test).
            with contextlib.suppress(DBAPIError, OSError):
                await session.rollback()
            if not _database_unreachable(exc):
                raise
            raise ServiceUnavailable(
                "The database is unavailable. Try again shortly.", details={"service": "database"}
            ) from exc
        except MediaNestError as exc:
            if exc.keeps_writes and _touched_database(session):
                await session.commit()
            else:
                await session.rollback()
            raise
        except BaseException:
            await session.rollback()
            raise


# scope="function": commit before the response is sent. With FastAPI's default
# ("request") the commit ran after the client already had its answer, so a sign-in
# followed at once by another request could miss the new session (and a failed
# commit could no longer become an error response).
SessionDep = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
