"""Python client for traild, the shared memory of small notes that agents
leave for each other.

- :class:`Trail`: synchronous client, with :meth:`Trail.pipeline` and
  :meth:`Trail.watch` (an iterator of events);
- :class:`AsyncTrail`: asyncio client; concurrent awaits share one
  connection, :meth:`AsyncTrail.watch` is an async iterator of events;
- :mod:`trail_client.errors`: :class:`TrailError` and one subclass per error
  code, plus :class:`DaemonUnavailable`;
- :mod:`trail_client.types`: TypedDicts of the answers (plain dicts at run time).

Every method returns the daemon's JSON-RPC ``result`` object as a dict.
"""
from __future__ import annotations

from .aio import AsyncTrail, AsyncWatch
from .discovery import default_socket_path, resolve_socket_path
from .errors import (
    AmbiguousId, DaemonUnavailable, EventsMissed, InternalError, InvalidNamespace, InvalidParams, InvalidRequest, MethodNotFound,
    NoteTooLarge, Overloaded, ParseError, PermissionDenied, Retracted, SemanticUnavailable, StorageUnavailable,
    TrailError, UnknownNote, UnknownSubscription,
)
from .sync import Pending, Pipeline, Trail, Watch

__version__ = "0.1.0"

__all__ = [
    "AmbiguousId", "AsyncTrail", "AsyncWatch", "DaemonUnavailable", "EventsMissed", "InternalError", "InvalidNamespace",
    "InvalidParams", "InvalidRequest", "MethodNotFound", "NoteTooLarge", "Overloaded", "ParseError", "Pending",
    "PermissionDenied", "Pipeline", "Retracted", "SemanticUnavailable", "StorageUnavailable", "Trail", "TrailError",
    "UnknownNote", "UnknownSubscription", "Watch", "__version__", "default_socket_path", "resolve_socket_path",
]
