"""Puts Benchmarks/colony on sys.path, so these tests import the `colony`
package wherever pytest runs from (beside tests/e2e, whose conftest module
name must stay its own: no conftest here)."""
import sys
from pathlib import Path

_HERE = str(Path(__file__).resolve().parents[1])
if _HERE not in sys.path:
    sys.path.insert(0, _HERE)
