"""The colony benchmark (Benchmarks/colony/README.md): simulated colonies of
short-lived agents, the same worlds and policy for every memory, against a
real traild. `python3 -m colony` runs it; `python3 -m colony.report` makes
the report from the raw records."""

import sys as _sys
from pathlib import Path as _Path

# The project's Python client, used by the trail memories and the daemon's start, from this checkout.
_CLIENT = str(_Path(__file__).resolve().parents[3] / "Clients" / "python")
if _CLIENT not in _sys.path:
    _sys.path.insert(0, _CLIENT)
