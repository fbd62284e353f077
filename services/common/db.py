"""Engine, sessions and the request-owned transaction."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import Session
from sqlalchemy.util import greenlet_spawn

from services.common.settings import Settings

POOL_SIZE = 20  # PostgreSQL connections per process


def make_engine(settings: Settings, **kwargs: Any) -> AsyncEngine:
    url = settings.database_url
    # Statement parameters (customers' e-mails, phones, addresses) never reach an exception text or a log.
    kwargs.setdefault("hide_parameters", True)
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kwargs)

        @event.listens_for(engine.sync_engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    # A fixed pool per process: an overflow connection would be opened and closed again for every burst (a
    # new PostgreSQL backend each time); a request waits for a free connection instead. `serve --workers N`
    # opens N pools, so N x POOL_SIZE must fit the server's max_connections.
    kwargs.setdefault("pool_size", POOL_SIZE)
    kwargs.setdefault("max_overflow", 0)
    kwargs.setdefault("pool_recycle", 1800)
    # No pre-ping round trip per checkout: a connection whose socket the server closed (a restart) is replaced
    # at checkout for free (below); one that dies in use fails that request with a 503. On a session's
    # connection SQLAlchemy then replaces every pooled connection that predates the failure; one lent raw by
    # pool_fetch goes back to the pool and is replaced by the same checkout test when next taken.
    kwargs.setdefault("pool_pre_ping", False)
    engine = create_async_engine(url, **kwargs)

    @event.listens_for(engine.sync_engine, "checkout")
    def _replace_closed(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        driver = getattr(dbapi_conn, "driver_connection", None)
        if driver is not None and driver.is_closed():
            raise DisconnectionError("connection closed by the server")

    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request owns the transaction: commit when the route returns, roll back when it raises.

    Scoped to the route function (see SessionDep), so the commit happens before the response is
    sent: nothing is acknowledged that is not stored.
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        claimed = request.scope.get("state", {}).get("idempotency_key")
        if claimed is not None:
            _mark_key_committed(session, *claimed)
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


_MARK_COMMITTED = text("UPDATE idempotency_keys SET state = 'committed' "
                       "WHERE scope = :scope AND key = :key AND state = 'running'")


def _mark_key_committed(session: AsyncSession, scope: str, key: str) -> None:
    """The request's Idempotency-Key is marked carried out in the very transaction that commits its effects
    (also a route's own mid-request commit): a process that dies before the answer is kept leaves a key that
    says "done, answer lost", never one that lets a retry run the request a second time."""

    @event.listens_for(session.sync_session, "before_commit")
    def _mark(sync_session: Session) -> None:
        sync_session.execute(_MARK_COMMITTED, {"scope": scope, "key": key})


SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


class _ReadOnlySession(Session):
    def flush(self, objects: Any = None) -> None:
        raise RuntimeError("a read-only request's session cannot write: use SessionDep")


def read_sessionmaker(app: Any) -> async_sessionmaker[AsyncSession]:
    """Sessions for read-only requests (made once per app, from its engine).

    On PostgreSQL they run each statement on its own (autocommit): under the default READ COMMITTED every
    statement of a transaction takes a fresh snapshot anyway, so a read sees exactly what it would inside
    BEGIN ... COMMIT, without those two round trips. Elsewhere (SQLite) they are ordinary sessions that are
    never committed.
    """
    maker: async_sessionmaker[AsyncSession] | None = getattr(app.state, "read_sessionmaker", None)
    if maker is None:
        engine: AsyncEngine = app.state.engine
        if engine.dialect.name == "postgresql":
            engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        maker = async_sessionmaker(engine, expire_on_commit=False, autoflush=False, sync_session_class=_ReadOnlySession)
        app.state.read_sessionmaker = maker
    return maker


# Untouched read sessions kept for the next request (per app): the hot reads borrow a pooled connection through
# pool_fetch and never start their session, so building a new AsyncSession (and its Session) for each of them was
# a few percent of the request.
_IDLE_READ_SESSIONS = 64


class read_session:  # used like a function: `async with read_session(request) as session`
    """A read-only session (see read_sessionmaker) for the block, closed after it; one that the block left
    untouched (its statements ran through pool_fetch) holds nothing and is kept for the next request.

    The hottest read routes use it directly: the same as ReadSessionDep without FastAPI's generator-dependency
    machinery (an exit stack and a shielded context manager per request)."""

    __slots__ = ("idle", "session")

    def __init__(self, request: Request) -> None:
        state = request.app.state
        idle: list[AsyncSession] | None = getattr(state, "idle_read_sessions", None)
        if idle is None:
            idle = state.idle_read_sessions = []
        self.idle = idle
        self.session = idle.pop() if idle else read_sessionmaker(request.app)()

    async def __aenter__(self) -> AsyncSession:
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        session = self.session
        sync = session.sync_session
        if session.in_transaction() or sync.identity_map or sync.new or sync.deleted:
            await session.close()  # used: its connection goes back, and it is never handed out again
        elif len(self.idle) < _IDLE_READ_SESSIONS:
            self.idle.append(session)


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for a route that only reads (see read_sessionmaker); released when the route returns."""
    async with read_session(request) as session:
        yield session


async def pool_fetch(session: AsyncSession, query: str, *args: Any) -> list[Any]:
    """PostgreSQL: run one read-only statement (asyncpg SQL, $1 parameters) and return its rows (asyncpg Records).

    A read-only session that has not started yet lends a pooled connection for just this statement instead of
    beginning its own session transaction (an autocommit statement sees what it would see there, see
    read_sessionmaker): no session-level connection, transaction or close for the hot read. Any other session
    runs it on its own connection, inside its transaction.
    """
    if isinstance(session.sync_session, _ReadOnlySession) and not session.in_transaction():
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        pooled = await engine.raw_connection()
        try:
            driver = pooled.driver_connection
            assert driver is not None
            return list(await driver.fetch(query, *args))
        finally:
            await greenlet_spawn(pooled.close)  # back to the pool (its reset has no transaction to end)
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    return list(await driver.fetch(query, *args))


ReadSessionDep = Annotated[AsyncSession, Depends(get_read_session, scope="function")]


async def database_ready(engine: AsyncEngine) -> bool:
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False
