"""Exceptions: one class per error code of the trail protocol.

Every error the daemon answers becomes a :class:`TrailError` subclass chosen by
its ``code``; ``message`` is the daemon's one-sentence explanation and
``data`` its ``data`` object (``data["reason"]`` names the error). A code this
client does not know becomes a plain :class:`TrailError`.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional


class TrailError(Exception):
    """An error answered by traild (or, for :class:`DaemonUnavailable`, met
    while reaching it).

    ``code`` is the JSON-RPC error code (``None`` for client-side errors such
    as :class:`DaemonUnavailable`), ``message`` the explanation and ``data``
    the error's ``data`` object (always a dict, ``{}`` when absent).
    """

    code: Optional[int] = None
    reason_name: Optional[str] = None

    def __init__(self, message: str, code: Optional[int] = None, data: Optional[Mapping[str, Any]] = None) -> None:
        super().__init__(message)
        self.message: str = message
        if code is not None:
            self.code = code
        self.data: dict[str, Any] = dict(data) if data else {}

    @property
    def reason(self) -> Optional[str]:
        """``data["reason"]``: the error's name (``"unknown_note"``, ...)."""
        value = self.data.get("reason", self.reason_name)
        return value if isinstance(value, str) else None

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code!r}, message={self.message!r}, data={self.data!r})"


class ParseError(TrailError):
    """-32700: the line sent was not JSON or not UTF-8."""

    code = -32700
    reason_name = "parse_error"


class InvalidRequest(TrailError):
    """-32600: not a JSON-RPC 2.0 request, a bad batch, or a line over the
    frame limit (``reason == "frame_too_large"``, and the daemon closed the
    connection)."""

    code = -32600
    reason_name = "invalid_request"


class MethodNotFound(TrailError):
    """-32601: no such method (``trail.compact`` answers this until the
    compactor is built in)."""

    code = -32601
    reason_name = "method_not_found"


class InvalidParams(TrailError):
    """-32602: a parameter is missing, of the wrong type, out of range or
    unknown; ``data["field"]`` names it."""

    code = -32602
    reason_name = "invalid_params"


class InternalError(TrailError):
    """-32603: a bug in traild; report it with the daemon's log."""

    code = -32603
    reason_name = "internal"


class UnknownNote(TrailError):
    """-32001: no note with this id (or prefix) in the namespace."""

    code = -32001
    reason_name = "unknown_note"


class NoteTooLarge(TrailError):
    """-32002: the body is over the namespace's ``max_note_bytes``
    (``data["limit"]``, ``data["size"]``)."""

    code = -32002
    reason_name = "note_too_large"


class PermissionDenied(TrailError):
    """-32003: the access rules do not give this peer the right in this namespace;
    ``data["ns"]`` and ``data["right"]`` (``read``, ``write`` or ``admin``) say which."""

    code = -32003
    reason_name = "permission_denied"


class InvalidNamespace(TrailError):
    """-32004: the namespace name does not match ``^[a-z0-9][a-z0-9._-]{0,63}$``."""

    code = -32004
    reason_name = "invalid_namespace"


class Overloaded(TrailError):
    """-32005: too many writes are queued; retry after a short pause."""

    code = -32005
    reason_name = "overloaded"


class StorageUnavailable(TrailError):
    """-32006: the store cannot complete the request (disk full, read-only,
    backend down)."""

    code = -32006
    reason_name = "storage_unavailable"


class AmbiguousId(TrailError):
    """-32007: an id prefix matches more than one note; send more digits
    (``data["matches"]`` lists some)."""

    code = -32007
    reason_name = "ambiguous_id"


class UnknownSubscription(TrailError):
    """-32008: ``unwatch`` of a subscription this connection does not hold."""

    code = -32008
    reason_name = "unknown_subscription"


class Retracted(TrailError):
    """-32009: deposit of a retracted body without ``force``, or reinforce/link
    of a retracted note; ``data["retraction"]`` says why."""

    code = -32009
    reason_name = "retracted"


class SemanticUnavailable(TrailError):
    """-32010: ``similar`` (sense) or ``merge_similar`` (deposit) asked of a
    daemon without its embedding model (not installed, or turned off); the
    message says how to install it. Everything else still works: search by
    ``query`` words, or deposit without ``merge_similar``."""

    code = -32010
    reason_name = "semantic_unavailable"


class DaemonUnavailable(TrailError):
    """traild cannot be reached: nothing listens on the socket, or the
    connection was lost. ``socket_path`` is the socket tried."""

    code = None
    reason_name = "daemon_unavailable"

    def __init__(self, message: str, socket_path: str = "", data: Optional[Mapping[str, Any]] = None) -> None:
        merged = {"reason": "daemon_unavailable", "socket": socket_path}
        if data:
            merged.update(data)
        super().__init__(message, None, merged)
        self.socket_path: str = socket_path


class EventsMissed(Exception):
    """Raised once by a watch's ``next()`` (or ``async for``) where the daemon
    sent ``trail.gap``: writes made through other daemons, the write-log
    seqs ``first`` to ``last``, that it could not replay to this
    subscription after its connection to the database was down. Re-read
    (``sense``), then go on iterating the same watch: it stays open."""

    def __init__(self, subscription: str, first: int, last: int) -> None:
        super().__init__(f"subscription {subscription} missed the writes of write-log seqs {first} to {last}; "
                         "re-read with sense, then go on watching")
        self.subscription = subscription
        self.first = first
        self.last = last


ERRORS_BY_CODE: dict[int, type[TrailError]] = {
    cls.code: cls
    for cls in (
        ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, UnknownNote, NoteTooLarge,
        PermissionDenied, InvalidNamespace, Overloaded, StorageUnavailable, AmbiguousId, UnknownSubscription,
        Retracted, SemanticUnavailable,
    )
}


def error_from_wire(error: Any) -> TrailError:
    """Builds the exception for a JSON-RPC ``error`` object."""
    if not isinstance(error, dict):
        return TrailError(f"traild answered a malformed error: {error!r}", -32603, {"reason": "internal"})
    code = error.get("code")
    message = error.get("message")
    if not isinstance(message, str) or not message:
        message = f"traild answered error {code!r}"
    data = error.get("data")
    if not isinstance(data, dict):
        data = {} if data is None else {"value": data}
    cls = ERRORS_BY_CODE.get(code) if isinstance(code, int) else None
    if cls is None:
        return TrailError(message, code if isinstance(code, int) else None, data)
    return cls(message, code, data)


__all__ = [
    "AmbiguousId", "DaemonUnavailable", "ERRORS_BY_CODE", "InternalError", "InvalidNamespace", "InvalidParams",
    "InvalidRequest", "MethodNotFound", "NoteTooLarge", "Overloaded", "ParseError", "PermissionDenied",
    "Retracted", "SemanticUnavailable", "StorageUnavailable", "TrailError", "UnknownNote", "UnknownSubscription",
    "error_from_wire",
]
