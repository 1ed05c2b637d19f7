"""The asyncio client: :class:`AsyncTrail` and :class:`AsyncWatch`."""
from __future__ import annotations

import asyncio
import functools
import json
from collections import deque
from types import TracebackType
from typing import (
    Any, AsyncIterator, Callable, Concatenate, Coroutine, Generator, Optional, ParamSpec, TypeVar, Union,
)

from . import _api
from ._api import DEFAULT_CLIENT_NAME, Base, Request, Tags, normalize_id, raw_line
from .discovery import PathLike, resolve_socket_path
from .errors import DaemonUnavailable, TrailError, error_from_wire
from .sync import _connect_error, _event_or_gap, _lost_error, _result
from .types import Event, HelloResult, UnwatchResult

P = ParamSpec("P")
R = TypeVar("R")

# asyncio's StreamReader refuses lines longer than its limit; answers (a sense
# of 1000 notes of 64 KiB) can be large, so the limit is only a safety net.
_LINE_LIMIT = 1 << 30


class _End:
    """Put in an event queue when its subscription or connection ends."""

    def __init__(self, error: Optional[BaseException]) -> None:
        self.error = error


def _bind(builder: Callable[Concatenate[Base, P], Request[R]]
          ) -> Callable[Concatenate["AsyncTrail", P], Coroutine[Any, Any, R]]:
    @functools.wraps(builder)
    async def method(self: "AsyncTrail", /, *args: P.args, **kwargs: P.kwargs) -> R:
        return await self._execute(builder(self, *args, **kwargs))
    return method


class AsyncTrail(Base):
    """A connection to traild for asyncio.

    Open it with ``async with AsyncTrail(...) as trail:`` or ``await
    trail.connect()`` (the first call connects too). The socket is found as
    for :class:`~trail_client.Trail`; on connect the client sends
    ``trail.hello`` with ``client_name`` and ``agent``; ``default_ns`` fills in
    every ``ns`` left out.

    Any number of coroutines may await calls on one client at the same time:
    their requests are pipelined on the one connection and each answer is
    matched to its request by id (``await asyncio.gather(*calls)``).
    ``timeout`` bounds each call's wait (``None``: no bound). A lost
    connection fails the calls in flight with :class:`DaemonUnavailable`; the
    next call connects again.
    """

    def __init__(self, socket_path: Optional[PathLike] = None, *, default_ns: Optional[str] = None,
                 agent: Optional[str] = None, client_name: str = DEFAULT_CLIENT_NAME,
                 timeout: Optional[float] = 30.0) -> None:
        self.socket_path: str = resolve_socket_path(socket_path)
        self.default_ns = default_ns
        self.agent = agent
        self.client_name = client_name
        self.timeout = timeout
        #: The answer of ``trail.hello`` on the current connection.
        self.server: Optional[HelloResult] = None
        self._reader: Optional[asyncio.StreamReader] = None
        self._writer: Optional[asyncio.StreamWriter] = None
        self._reader_task: Optional[asyncio.Task[None]] = None
        self._connect_lock: Optional[asyncio.Lock] = None
        self._write_lock: Optional[asyncio.Lock] = None
        self._next_id = 1
        self._pending: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._null_waiters: deque[asyncio.Future[dict[str, Any]]] = deque()
        self._last_null: Optional[dict[str, Any]] = None
        self._events: dict[str, asyncio.Queue[Union[Event, _End]]] = {}
        self._ended: set[str] = set()
        self._generation = 0

    # --- connection -----------------------------------------------------------

    async def connect(self) -> "AsyncTrail":
        """Opens the connection (if not open) and says hello. Raises
        :class:`DaemonUnavailable` when nothing listens on the socket."""
        if self._connect_lock is None:
            self._connect_lock = asyncio.Lock()
        async with self._connect_lock:
            if self._writer is not None:
                return self
            try:
                reader, writer = await asyncio.open_unix_connection(self.socket_path, limit=_LINE_LIMIT)
            except OSError as exc:
                raise _connect_error(self.socket_path, exc) from exc
            self._reader, self._writer = reader, writer
            self._write_lock = asyncio.Lock()
            self._generation += 1
            self._last_null = None
            self._events = {}
            self._ended = set()
            self._reader_task = asyncio.get_running_loop().create_task(self._read_loop(reader, self._generation))
            try:
                hello: HelloResult = await self._send(_api.hello(self, client=self.client_name, agent=self.agent))
                self.server = hello
            except BaseException:
                await self.close()
                raise
            return self

    @property
    def connected(self) -> bool:
        return self._writer is not None

    async def close(self) -> None:
        """Closes the connection; calls in flight fail, watches end."""
        writer, task = self._writer, self._reader_task
        self._writer = self._reader = None
        self._reader_task = None
        if task is not None:
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        self._fail_all(_lost_error(self.socket_path, "the client closed the connection"), closed_by_us=True)
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except Exception:
                pass

    async def __aenter__(self) -> "AsyncTrail":
        return await self.connect()

    async def __aexit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "connected" if self._writer is not None else "closed"
        return f"<AsyncTrail {self.socket_path} {state} default_ns={self.default_ns!r} agent={self.agent!r}>"

    # --- wire -----------------------------------------------------------------

    async def _read_loop(self, reader: asyncio.StreamReader, generation: int) -> None:
        why = "traild closed the connection"
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                if line.strip():
                    self._dispatch_line(line)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reset, over-long line
            why = str(exc) or type(exc).__name__
        if generation != self._generation:
            return
        null = self._last_null
        error: BaseException = (error_from_wire(null.get("error")) if null is not None
                                else _lost_error(self.socket_path, why))
        writer = self._writer
        self._writer = self._reader = None
        self._reader_task = None
        self._fail_all(error, closed_by_us=False)
        if writer is not None:
            writer.close()

    def _fail_all(self, error: BaseException, closed_by_us: bool) -> None:
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(error)
        while self._null_waiters:
            fut = self._null_waiters.popleft()
            if not fut.done():
                fut.set_exception(error)
        lost = _lost_error(self.socket_path, "the connection of this watch has ended") if not closed_by_us else None
        for queue in self._events.values():
            queue.put_nowait(_End(lost))

    def _dispatch_line(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            return
        for item in msg if isinstance(msg, list) else [msg]:
            if not isinstance(item, dict):
                continue
            if "id" not in item:
                if item.get("method") in ("trail.event", "trail.gap") and isinstance(item.get("params"), dict):
                    params = item["params"]
                    if item["method"] == "trail.gap":
                        # Queued in its place among the events, told apart by `event`.
                        params = {**params, "event": "gap"}
                    sub = params.get("subscription")
                    if isinstance(sub, str) and sub not in self._ended:
                        self._queue_for(sub).put_nowait(params)
                continue
            rid = normalize_id(item["id"])
            if rid is None:
                if self._null_waiters:
                    fut = self._null_waiters.popleft()
                    if not fut.done():
                        fut.set_result(item)
                else:
                    self._last_null = item
                continue
            waiter = self._pending.pop(rid, None)
            if waiter is not None and not waiter.done():
                waiter.set_result(item)

    def _queue_for(self, sub: str) -> "asyncio.Queue[Union[Event, _End]]":
        queue = self._events.get(sub)
        if queue is None:
            queue = self._events[sub] = asyncio.Queue()
        return queue

    async def _write(self, data: bytes) -> None:
        writer, lock = self._writer, self._write_lock
        if writer is None or lock is None:
            raise _lost_error(self.socket_path, "not connected")
        async with lock:
            try:
                writer.write(data)
                await writer.drain()
            except (ConnectionError, OSError) as exc:
                raise _lost_error(self.socket_path, str(exc) or type(exc).__name__) from exc

    async def _wait(self, fut: "asyncio.Future[dict[str, Any]]") -> dict[str, Any]:
        if self.timeout is None:
            return await fut
        try:
            return await asyncio.wait_for(fut, self.timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"traild at {self.socket_path} did not answer within {self.timeout} s") from None

    async def _send(self, request: Request[R]) -> R:
        """Sends on the current connection (no reconnect)."""
        rid = self._next_id
        self._next_id += 1
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        try:
            try:
                await self._write(request.encode(rid))
            except DaemonUnavailable:
                # The daemon may have answered before closing (a frame over
                # its limit): the reader resolves the call with that answer.
                try:
                    msg = await asyncio.wait_for(asyncio.shield(fut), 5.0)
                except (asyncio.TimeoutError, TrailError):
                    pass
                else:
                    return _result(msg)  # type: ignore[no-any-return]
                if fut.done() and not fut.cancelled() and fut.exception() is not None:
                    raise fut.exception() from None  # type: ignore[misc]
                raise
            msg = await self._wait(fut)
        finally:
            self._pending.pop(rid, None)
        return _result(msg)  # type: ignore[no-any-return]

    async def _execute(self, request: Request[R]) -> R:
        if self._writer is None:
            await self.connect()
        return await self._send(request)

    # --- methods ----------------------------------------------------------------

    async def hello(self, *, client: Optional[str] = None, agent: Optional[str] = None) -> HelloResult:
        """trail.hello: introduces the client and sets the connection's default
        agent (kept for reconnections too). Returns the daemon's name,
        version, protocol, store, limits and defaults."""
        result = await self._execute(_api.hello(self, client=client, agent=agent))
        if agent is not None:
            self.agent = agent
        if client is not None:
            self.client_name = client
        self.server = result
        return result

    deposit = _bind(_api.deposit)
    get = _bind(_api.get)
    reinforce = _bind(_api.reinforce)
    repel = _bind(_api.repel)
    sense = _bind(_api.sense)
    link = _bind(_api.link)
    follow = _bind(_api.follow)
    retract = _bind(_api.retract)
    revive = _bind(_api.revive)
    stats = _bind(_api.stats)
    configure_namespace = _bind(_api.configure_namespace)
    list_namespaces = _bind(_api.list_namespaces)
    compact = _bind(_api.compact)
    export = _bind(_api.export)
    import_records = _bind(_api.import_records)
    call = _bind(_api.call)

    def watch(self, *, ns: Optional[str] = None, tags: Optional[Tags] = None) -> "AsyncWatch":
        """trail.watch: returns an :class:`AsyncWatch`, an async iterator of
        event dicts. It subscribes when awaited (``w = await trail.watch()``),
        entered (``async with trail.watch() as w``) or first iterated."""
        return AsyncWatch(self, _api.watch(self, ns=ns, tags=tags))

    async def unwatch(self, subscription: str) -> UnwatchResult:
        """trail.unwatch: ends a subscription of this connection; iterators on
        it stop."""
        result = await self._execute(_api.unwatch(self, subscription))
        self._end_subscription(subscription)
        return result

    def _end_subscription(self, subscription: str) -> None:
        self._ended.add(subscription)
        queue = self._events.pop(subscription, None)
        if queue is not None:
            queue.put_nowait(_End(None))

    async def send_raw(self, line: Union[str, bytes]) -> Any:
        """Sends one line exactly as given (a newline is added if missing) and
        returns the ``result`` of its answer, raising its error. Meant for
        testing the daemon: a line that is not JSON raises :class:`ParseError`.
        A notification (no ``id``) returns None at once. Do not reuse the
        small integer ids this client numbers its own requests with."""
        data, kind, rid = raw_line(line)
        if self._writer is None:
            await self.connect()
        if kind == "none":
            await self._write(data)
            return None
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        if kind == "id":
            self._pending[rid] = fut
        else:
            self._null_waiters.append(fut)
        try:
            await self._write(data)
            msg = await self._wait(fut)
        finally:
            if kind == "id":
                self._pending.pop(rid, None)
            elif fut in self._null_waiters:
                self._null_waiters.remove(fut)
        return _result(msg)


class AsyncWatch(AsyncIterator[Event]):
    """The events of one subscription, as an async iterator of event dicts.

    Subscribe with ``await`` or ``async with`` (or let the first ``async for``
    do it); ``subscription`` is then set. ``await w.get(timeout=...)`` raises
    :class:`TimeoutError` when no event comes in time. Iteration stops after
    ``await w.close()``; it raises :class:`DaemonUnavailable` if the
    connection is lost.
    """

    def __init__(self, client: AsyncTrail, request: Request[Any]) -> None:
        self.client = client
        self.request = request
        self.subscription: Optional[str] = None
        self._queue: Optional[asyncio.Queue[Union[Event, _End]]] = None
        self._finished: Optional[_End] = None

    async def start(self) -> "AsyncWatch":
        """Subscribes (once)."""
        if self.subscription is None:
            result = await self.client._execute(self.request)
            self.subscription = result["subscription"]
            self._queue = self.client._queue_for(self.subscription)
        return self

    def __await__(self) -> Generator[Any, None, "AsyncWatch"]:
        return self.start().__await__()

    async def __aenter__(self) -> "AsyncWatch":
        return await self.start()

    async def __aexit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                        tb: Optional[TracebackType]) -> None:
        await self.close()

    def __aiter__(self) -> "AsyncWatch":
        return self

    async def __anext__(self) -> Event:
        await self.start()
        if self._finished is None:
            assert self._queue is not None
            item = await self._queue.get()
            if not isinstance(item, _End):
                return _event_or_gap(item)
            self._finished = item
        if self._finished.error is not None:
            raise self._finished.error
        raise StopAsyncIteration

    async def get(self, timeout: Optional[float] = None) -> Event:
        """The next event; TimeoutError after ``timeout`` seconds."""
        try:
            return await asyncio.wait_for(self.__anext__(), timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"no event on subscription {self.subscription} within {timeout} s") from None
        except StopAsyncIteration:
            raise TrailError(f"subscription {self.subscription} has been closed") from None

    async def close(self) -> None:
        """Unwatches (quietly, if the connection is already gone)."""
        sub = self.subscription
        if sub is None or sub in self.client._ended:
            return
        queue = self._queue
        if not self.client.connected or queue is None or self.client._events.get(sub) is not queue:
            self.client._end_subscription(sub)
            if queue is not None:
                queue.put_nowait(_End(None))
            return
        try:
            await self.client.unwatch(sub)
        except TrailError:
            self.client._end_subscription(sub)

    def __repr__(self) -> str:
        return f"<AsyncWatch {self.subscription}>"


__all__ = ["AsyncTrail", "AsyncWatch"]
