"""Where the daemon's socket is: the same rule for traild and every client.

1. the path given explicitly (``Trail(socket_path=...)``, ``--socket``);
2. the ``TRAIL_SOCKET`` environment variable;
3. ``$XDG_RUNTIME_DIR/trail/traild.sock`` when ``XDG_RUNTIME_DIR`` is set;
4. ``/tmp/trail-$UID/traild.sock`` otherwise (``$UID`` the numeric user id).

Empty values count as unset.
"""
from __future__ import annotations

import os
from typing import Mapping, Optional, Union

PathLike = Union[str, "os.PathLike[str]"]


def default_socket_path(env: Optional[Mapping[str, str]] = None, uid: Optional[int] = None) -> str:
    """The socket path from the environment (steps 2 to 4 above)."""
    environ: Mapping[str, str] = os.environ if env is None else env
    explicit = environ.get("TRAIL_SOCKET")
    if explicit:
        return explicit
    runtime = environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "trail", "traild.sock")
    return f"/tmp/trail-{os.getuid() if uid is None else uid}/traild.sock"


def resolve_socket_path(explicit: Optional[PathLike] = None, env: Optional[Mapping[str, str]] = None) -> str:
    """The socket to use: ``explicit`` when given, else :func:`default_socket_path`."""
    if explicit is not None:
        path = os.fspath(explicit)
        if path:
            return path
    return default_socket_path(env)


__all__ = ["default_socket_path", "resolve_socket_path"]
