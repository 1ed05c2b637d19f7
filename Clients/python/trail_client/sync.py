"""The synchronous client: :class:`Trail`, its :class:`Pipeline` and :class:`Watch`."""
from __future__ import annotations

import functools
import json
import os
import select
import socket
import threading
import time
from collections import deque
from types import TracebackType
from typing import Any, Callable, Concatenate, Generic, Iterator, Optional, ParamSpec, TypeVar, Union, cast

from . import _api
from ._api import DEFAULT_CLIENT_NAME, Base, Request, Tags, normalize_id, raw_line
from .discovery import PathLike, resolve_socket_path
from .errors import DaemonUnavailable, EventsMissed, TrailError, error_from_wire
from .types import Event, HelloResult, UnwatchResult

P = ParamSpec("P")
R = TypeVar("R")

_READ_CHUNK = 1 << 20
_WRITE_CHUNK = 1 << 18


def _connect_error(path: str, exc: OSError) -> DaemonUnavailable:
    why = exc.strerror or str(exc) or type(exc).__name__
    return DaemonUnavailable(
        f"Cannot connect to traild at {path} ({why}); start it with `traild --socket {path}` "
        f"or set TRAIL_SOCKET to the socket of a running traild.", path)


def _lost_error(path: str, why: str) -> DaemonUnavailable:
    return DaemonUnavailable(
        f"The connection to traild at {path} was lost ({why}); check that traild is running "
        f"(start it with `traild --socket {path}`) and retry.", path)


def _event_or_gap(item: Any) -> Event:
    """A queued event, or the EventsMissed of a queued `trail.gap`."""
    if item.get("event") == "gap":
        raise EventsMissed(str(item.get("subscription")), int(item.get("from", 0)), int(item.get("to", 0)))
    return cast(Event, item)


def _result(msg: dict[str, Any]) -> Any:
    if "error" in msg:
        raise error_from_wire(msg["error"])
    return msg.get("result")


def _bind(builder: Callable[Concatenate[Base, P], Request[R]]) -> Callable[Concatenate["Trail", P], R]:
    @functools.wraps(builder)
    def method(self: "Trail", /, *args: P.args, **kwargs: P.kwargs) -> R:
        return self._execute(builder(self, *args, **kwargs))
    return method


class Trail(Base):
    """A connection to traild, used synchronously.

    ``Trail()`` finds the socket as the contract says (``socket_path``, else
    ``TRAIL_SOCKET``, else ``$XDG_RUNTIME_DIR/trail/traild.sock``, else
    ``/tmp/trail-$UID/traild.sock``), connects and sends ``trail.hello`` with
    ``client_name`` and ``agent`` (so the daemon stamps writes with the agent).
    ``default_ns`` is used by every method whose ``ns`` is not given.
    ``timeout`` is how long to wait without hearing from the daemon before
    raising :class:`TimeoutError` (``None`` waits for ever).

    Every method returns the JSON-RPC ``result`` dict as sent by the daemon
    (typed as the TypedDicts of :mod:`trail_client.types`) or raises a
    :class:`~trail_client.errors.TrailError` subclass. A lost connection is
    opened again by the next call. One instance may be shared by threads:
    calls are serialised on its connection.
    """

    def __init__(self, socket_path: Optional[PathLike] = None, *, default_ns: Optional[str] = None,
                 agent: Optional[str] = None, client_name: str = DEFAULT_CLIENT_NAME,
                 timeout: Optional[float] = 30.0, connect: bool = True) -> None:
        self.socket_path: str = resolve_socket_path(socket_path)
        self.default_ns = default_ns
        self.agent = agent
        self.client_name = client_name
        self.timeout = timeout
        #: The answer of ``trail.hello`` on the current connection.
        self.server: Optional[HelloResult] = None
        self._lock = threading.RLock()
        self._sock: Optional[socket.socket] = None
        self._generation = 0
        self._rbuf = bytearray()
        self._next_id = 1
        self._waiting: set[Any] = set()
        self._responses: dict[Any, dict[str, Any]] = {}
        self._null: Optional[dict[str, Any]] = None
        self._events: dict[str, deque[Event]] = {}
        self._ended: set[str] = set()
        self._closed_generations: set[int] = set()  # connections ended by close()
        if connect:
            self.connect()

    # --- connection -----------------------------------------------------------

    def connect(self) -> "Trail":
        """Opens the connection (if not open) and says hello. Raises
        :class:`DaemonUnavailable` when nothing listens on the socket."""
        with self._lock:
            if self._sock is not None:
                return self
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(self.socket_path)
            except OSError as exc:
                sock.close()
                raise _connect_error(self.socket_path, exc) from exc
            sock.setblocking(False)
            self._sock = sock
            self._generation += 1
            self._rbuf.clear()
            self._events.clear()
            self._ended.clear()
            try:
                self.server = self._execute(_api.hello(self, client=self.client_name, agent=self.agent))
            except BaseException:
                self.close()
                raise
            return self

    @property
    def connected(self) -> bool:
        return self._sock is not None

    def close(self) -> None:
        """Closes the connection. Subscriptions end with it: their iterators
        stop. The next call opens a new connection."""
        with self._lock:
            self._ended.update(self._events)
            self._events.clear()
            if self._sock is not None:
                self._closed_generations.add(self._generation)
            self._disconnect()

    def _disconnect(self) -> None:
        with self._lock:
            if self._sock is not None:
                try:
                    self._sock.close()
                finally:
                    self._sock = None

    def __enter__(self) -> "Trail":
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "connected" if self._sock is not None else "closed"
        return f"<Trail {self.socket_path} {state} default_ns={self.default_ns!r} agent={self.agent!r}>"

    # --- wire -----------------------------------------------------------------

    def _take_ids(self, n: int) -> int:
        first = self._next_id
        self._next_id += n
        return first

    def _feed(self, data: bytes) -> None:
        self._rbuf += data
        while True:
            nl = self._rbuf.find(b"\n")
            if nl < 0:
                return
            line = bytes(self._rbuf[:nl])
            del self._rbuf[:nl + 1]
            if line.strip():
                self._dispatch_line(line)

    def _dispatch_line(self, line: bytes) -> None:
        try:
            msg = json.loads(line)
        except ValueError:
            return  # not ours to judge; nothing can be matched to it
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
                        self._events.setdefault(sub, deque()).append(params)
                continue
            rid = normalize_id(item["id"])
            if rid is None:
                self._null = item
            elif rid in self._waiting:
                self._responses[rid] = item

    def _lost(self, why: str) -> DaemonUnavailable:
        self._disconnect()
        return _lost_error(self.socket_path, why)

    def _pump(self, out: bytes, done: Callable[[], bool], timeout: Optional[float]) -> None:
        """Writes ``out`` while reading answers, until ``done()`` and all is
        written. Raises TimeoutError after ``timeout`` seconds without progress,
        DaemonUnavailable when the connection ends first."""
        sock = self._sock
        if sock is None:
            raise _lost_error(self.socket_path, "not connected")
        view = memoryview(out)
        pos = 0
        write_failed: Optional[str] = None
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if done() and (pos >= len(view) or write_failed):
                return
            writing = pos < len(view) and write_failed is None
            wait = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                readable, writable, _ = select.select([sock], [sock] if writing else [], [], wait)
            except (OSError, ValueError) as exc:
                raise self._lost(str(exc)) from exc
            if not readable and not writable:
                raise TimeoutError(f"traild at {self.socket_path} did not answer within {timeout} s")
            progress = False
            if writable:
                try:
                    n = sock.send(view[pos:pos + _WRITE_CHUNK])
                    pos += n
                    progress = n > 0
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError as exc:
                    # The daemon may have closed after answering (frame too
                    # large): keep reading what it said before the end.
                    write_failed = exc.strerror or str(exc)
            if readable:
                ended: Optional[str] = None
                try:
                    chunk = sock.recv(_READ_CHUNK)
                except (BlockingIOError, InterruptedError):
                    chunk = None
                except OSError as exc:
                    chunk, ended = None, exc.strerror or str(exc)
                if chunk == b"":
                    ended = write_failed or "traild closed the connection"
                if ended is not None:
                    # The end of the connection: what was read before it still counts.
                    if self._rbuf:
                        self._feed(b"\n")
                    self._disconnect()
                    if done():
                        return
                    raise _lost_error(self.socket_path, ended)
                if chunk:
                    self._feed(chunk)
                    progress = True
            if progress and timeout is not None:
                deadline = time.monotonic() + timeout

    def _exchange(self, payload: bytes, ids: list[Any], stop_on_null: bool,
                  timeout: Optional[float]) -> tuple[dict[Any, dict[str, Any]], Optional[dict[str, Any]],
                                                     Optional[BaseException]]:
        """Sends ``payload`` and collects the answers to ``ids``. Returns the
        answers, an ``id: null`` error if one came, and the exception that
        ended the wait early (lost connection, timeout), if any."""
        self._waiting.update(ids)
        self._null = None
        pending = set(ids)

        def done() -> bool:
            pending.difference_update([i for i in list(pending) if i in self._responses])
            return (bool(ids) and not pending) or (stop_on_null and self._null is not None)

        failure: Optional[BaseException] = None
        try:
            self._pump(payload, done, timeout)
        except (DaemonUnavailable, TimeoutError) as exc:
            failure = exc
        finally:
            self._waiting.difference_update(ids)
        got = {i: self._responses.pop(i) for i in ids if i in self._responses}
        null, self._null = self._null, None
        if null is not None and error_from_wire(null.get("error")).reason == "frame_too_large":
            self._disconnect()  # the daemon closes the connection after this answer
        return got, null, failure

    def _execute(self, request: Request[R]) -> R:
        with self._lock:
            if self._sock is None:
                self.connect()
            rid = self._take_ids(1)
            got, null, failure = self._exchange(request.encode(rid), [rid], True, self.timeout)
            if rid in got:
                return _result(got[rid])  # type: ignore[no-any-return]
            if null is not None:
                raise error_from_wire(null.get("error"))
            raise failure if failure is not None else _lost_error(self.socket_path, "no answer")

    def _run_batch(self, requests: list[Request[Any]]) -> list[tuple[bool, Any]]:
        """Sends many requests at once; returns ``(ok, result or error)`` in order."""
        with self._lock:
            if self._sock is None:
                self.connect()
            first = self._take_ids(len(requests))
            ids = list(range(first, first + len(requests)))
            payload = b"".join(req.encode(rid) for req, rid in zip(requests, ids))
            got, null, failure = self._exchange(payload, ids, False, self.timeout)
            out: list[tuple[bool, Any]] = []
            for rid in ids:
                if rid in got:
                    msg = got[rid]
                    if "error" in msg:
                        out.append((False, error_from_wire(msg["error"])))
                    else:
                        out.append((True, msg.get("result")))
                elif null is not None:
                    out.append((False, error_from_wire(null.get("error"))))
                else:
                    out.append((False, failure or _lost_error(self.socket_path, "no answer")))
            return out

    # --- methods ----------------------------------------------------------------

    def hello(self, *, client: Optional[str] = None, agent: Optional[str] = None) -> HelloResult:
        """trail.hello: introduces the client and sets the connection's default
        agent (kept for reconnections too). Returns the daemon's name,
        version, protocol, store, limits and defaults."""
        result = self._execute(_api.hello(self, client=client, agent=agent))
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

    def watch(self, *, ns: Optional[str] = None, tags: Optional[Tags] = None) -> "Watch":
        """trail.watch: subscribes to events of ``ns`` (notes carrying all
        ``tags``) and returns a :class:`Watch`, an iterator of event dicts
        (``{subscription, event, note}``, plus ``trail`` for ``linked``).
        Use it as a context manager, or call ``close()``, to unwatch."""
        with self._lock:
            result = self._execute(_api.watch(self, ns=ns, tags=tags))
            sub = result["subscription"]
            self._events.setdefault(sub, deque())
            return Watch(self, sub, self._generation)

    def unwatch(self, subscription: str) -> UnwatchResult:
        """trail.unwatch: ends a subscription of this connection; iterators on
        it stop."""
        with self._lock:
            result = self._execute(_api.unwatch(self, subscription))
            self._end_subscription(subscription)
            return result

    def _end_subscription(self, subscription: str) -> None:
        self._ended.add(subscription)
        self._events.pop(subscription, None)

    def pipeline(self) -> "Pipeline":
        """A :class:`Pipeline`: queue many calls, then send them all at once
        (``execute()``, or leaving its ``with`` block) and get the results in
        order."""
        return Pipeline(self)

    def send_raw(self, line: Union[str, bytes]) -> Any:
        """Sends one line exactly as given (a newline is added if missing) and
        returns the ``result`` of its answer, raising its error. Meant for
        testing the daemon: a line that is not JSON raises :class:`ParseError`.
        A notification (no ``id``) returns None at once. Do not reuse the
        small integer ids this client numbers its own requests with."""
        data, kind, rid = raw_line(line)
        with self._lock:
            if self._sock is None:
                self.connect()
            if kind == "none":
                self._pump(data, lambda: True, self.timeout)
                return None
            ids = [rid] if kind == "id" else []
            got, null, failure = self._exchange(data, ids, True, self.timeout)
            if kind == "id" and rid in got:
                return _result(got[rid])
            if null is not None:
                raise error_from_wire(null.get("error"))
            raise failure if failure is not None else _lost_error(self.socket_path, "no answer")

    def _next_event(self, watch: "Watch", timeout: Optional[float]) -> Event:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            with self._lock:
                sub = watch.subscription
                if watch.generation != self._generation:
                    if watch.generation in self._closed_generations:
                        raise StopIteration
                    raise _lost_error(self.socket_path, "the connection of this watch has ended")
                if sub in self._ended:
                    raise StopIteration
                queue = self._events.setdefault(sub, deque())
                if queue:
                    return _event_or_gap(queue.popleft())
                sock = self._sock
                if sock is None:
                    raise _lost_error(self.socket_path, "the connection of this watch has ended")
                # Take in whatever has already arrived, without waiting.
                try:
                    self._pump(b"", lambda: bool(queue), 0.0)
                except TimeoutError:
                    pass
                if queue:
                    return _event_or_gap(queue.popleft())
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError(f"no event on subscription {sub} within {timeout} s")
            # Wait for the daemon without holding the lock, so that other
            # threads' calls go through meanwhile (and collect our events).
            try:
                select.select([sock], [], [], 0.25 if left is None else min(0.25, left))
            except (OSError, ValueError):
                pass


class Watch(Iterator[Event]):
    """The events of one subscription, as an iterator of event dicts.

    ``next(w)`` (or ``for event in w``) blocks until an event comes;
    ``w.get(timeout=...)`` raises :class:`TimeoutError` when none comes in
    time. Iteration stops after ``close()``/``unwatch``; it raises
    :class:`DaemonUnavailable` if the connection is lost.
    """

    def __init__(self, client: Trail, subscription: str, generation: int) -> None:
        self.client = client
        self.subscription = subscription
        self.generation = generation

    def __iter__(self) -> "Watch":
        return self

    def __next__(self) -> Event:
        return self.client._next_event(self, None)

    def get(self, timeout: Optional[float] = None) -> Event:
        """The next event; TimeoutError after ``timeout`` seconds."""
        try:
            return self.client._next_event(self, timeout)
        except StopIteration:
            raise TrailError(f"subscription {self.subscription} has been closed") from None

    def close(self) -> None:
        """Unwatches (quietly, if the connection is already gone)."""
        c = self.client
        with c._lock:
            if self.subscription in c._ended:
                return
            if c._sock is None or self.generation != c._generation:
                c._end_subscription(self.subscription)
                return
            try:
                c.unwatch(self.subscription)
            except (DaemonUnavailable, TrailError):
                c._end_subscription(self.subscription)

    def __enter__(self) -> "Watch":
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Watch {self.subscription}>"


class Pending(Generic[R]):
    """The future result of one call queued in a :class:`Pipeline`."""

    __slots__ = ("request", "_done", "_ok", "_value")

    def __init__(self, request: Request[R]) -> None:
        self.request = request
        self._done = False
        self._ok = False
        self._value: Any = None

    def _set(self, ok: bool, value: Any) -> None:
        self._done, self._ok, self._value = True, ok, value

    def done(self) -> bool:
        return self._done

    def result(self) -> R:
        """The call's result; raises its error. RuntimeError before the
        pipeline has run."""
        if not self._done:
            raise RuntimeError("the pipeline has not been executed yet")
        if not self._ok:
            raise self._value
        return self._value  # type: ignore[no-any-return]

    def exception(self) -> Optional[BaseException]:
        if not self._done:
            raise RuntimeError("the pipeline has not been executed yet")
        return None if self._ok else self._value

    def __repr__(self) -> str:
        state = "pending" if not self._done else ("ok" if self._ok else f"error {self._value!r}")
        return f"<Pending {self.request.method} {state}>"


def _queue(builder: Callable[Concatenate[Base, P], Request[R]]) -> Callable[Concatenate["Pipeline", P], Pending[R]]:
    @functools.wraps(builder)
    def method(self: "Pipeline", /, *args: P.args, **kwargs: P.kwargs) -> Pending[R]:
        return self._add(builder(self, *args, **kwargs))
    return method


class Pipeline(Base):
    """Many calls sent at once on the client's connection.

    Each method queues a call and returns a :class:`Pending`. ``execute()``
    writes every queued request in one go (reading answers while it writes,
    so any number may be queued), waits for all the answers and returns the
    results in the order queued. Used as a context manager, the block's end
    executes it::

        with trail.pipeline() as p:
            for body in bodies:
                p.deposit(body, tags=["bulk"])
        ids = [r["id"] for r in p.results]

    By default the first error (in queue order) is raised after every answer
    has arrived; ``execute(return_exceptions=True)`` puts the exceptions in the
    result list instead. A pipeline can be executed once.
    """

    def __init__(self, client: Trail) -> None:
        self.client = client
        self.default_ns = client.default_ns
        self.agent = client.agent
        self._queued: list[Pending[Any]] = []
        self.results: Optional[list[Any]] = None

    def _add(self, request: Request[R]) -> Pending[R]:
        if self.results is not None:
            raise RuntimeError("this pipeline has already been executed; start a new one")
        pending: Pending[R] = Pending(request)
        self._queued.append(pending)
        return pending

    def __len__(self) -> int:
        return len(self._queued)

    deposit = _queue(_api.deposit)
    get = _queue(_api.get)
    reinforce = _queue(_api.reinforce)
    repel = _queue(_api.repel)
    sense = _queue(_api.sense)
    link = _queue(_api.link)
    follow = _queue(_api.follow)
    retract = _queue(_api.retract)
    revive = _queue(_api.revive)
    stats = _queue(_api.stats)
    configure_namespace = _queue(_api.configure_namespace)
    list_namespaces = _queue(_api.list_namespaces)
    compact = _queue(_api.compact)
    export = _queue(_api.export)
    import_records = _queue(_api.import_records)
    call = _queue(_api.call)

    def execute(self, *, return_exceptions: bool = False) -> list[Any]:
        if self.results is not None:
            return self.results
        outcomes = self.client._run_batch([p.request for p in self._queued]) if self._queued else []
        for pending, (ok, value) in zip(self._queued, outcomes):
            pending._set(ok, value)
        self.results = [value for _, value in outcomes]
        if not return_exceptions:
            for ok, value in outcomes:
                if not ok:
                    raise value
        return self.results

    def __enter__(self) -> "Pipeline":
        return self

    def __exit__(self, exc_type: Optional[type[BaseException]], exc: Optional[BaseException],
                 tb: Optional[TracebackType]) -> None:
        if exc_type is None:
            self.execute()


__all__ = ["Pending", "Pipeline", "Trail", "Watch"]
