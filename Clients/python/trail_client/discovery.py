"""Where the daemon's socket is: the same rule for traild and every client.

1. the path given explicitly (``Trail(socket_path=...)``, ``--socket``);
2. the ``TRAIL_SOCKET`` environment variable;
3. ``$XDG_RUNTIME_DIR/trail/traild.sock`` when ``XDG_RUNTIME_DIR`` is set;
4. ``/tmp/trail-$UID/traild.sock`` otherwise (``$UID`` the numeric user id);
5. for a client given neither 1 nor 2 whose default (3 or 4) has no socket:
   the system daemon's, ``/run/trail/traild.sock`` (the Debian package's),
   when its folder exists, as docker's CLI finds its daemon (a user outside
   the daemon's group cannot see the socket in it, and hears "permission
   denied" there).

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


#: The system daemon's socket (Daemon/trail.service, the Debian package).
SYSTEM_SOCKET = "/run/trail/traild.sock"


def resolve_socket_path(explicit: Optional[PathLike] = None, env: Optional[Mapping[str, str]] = None,
                        system: Optional[str] = SYSTEM_SOCKET) -> str:
    """The socket to use: ``explicit`` when given, else
    :func:`default_socket_path`, else (when that has no socket and
    ``system``'s folder exists) ``system``."""
    if explicit is not None:
        path = os.fspath(explicit)
        if path:
            return path
    environ: Mapping[str, str] = os.environ if env is None else env
    own = default_socket_path(environ)
    if system and not environ.get("TRAIL_SOCKET") and not os.path.exists(own) and os.path.isdir(os.path.dirname(system)):
        return system
    return own


__all__ = ["SYSTEM_SOCKET", "default_socket_path", "resolve_socket_path"]
