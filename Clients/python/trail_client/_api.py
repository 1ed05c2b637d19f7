"""The trail methods, written once: each builder turns Python arguments into a
JSON-RPC request. The synchronous client, the asyncio client and the pipeline
wrap the same builders (see ``_bind`` in each), so their signatures and
docstrings cannot drift apart."""
from __future__ import annotations

import json
from typing import Any, Generic, Iterable, Mapping, Optional, Sequence, TypeVar, Union

from .types import (
    DepositResult, FollowResult, GetResult, HelloResult, LinkResult, NamespaceListResult, NamespaceSettings,
    ReinforceResult, RetractResult, ReviveResult, SenseResult, StatsResult, UnwatchResult, WatchResult,
    CompactionReport, Direction, ExportResult, ImportResult,
)

R = TypeVar("R")

Tags = Union[str, Iterable[str]]
Ids = Union[str, Iterable[str]]

DEFAULT_CLIENT_NAME = "trail_client-python/0.1.0"


class Request(Generic[R]):
    """One request to send: ``method`` and ``params``. ``R`` is the type of
    its result (for type checkers only)."""

    __slots__ = ("method", "params")

    def __init__(self, method: str, params: Optional[dict[str, Any]] = None) -> None:
        self.method = method
        self.params = params

    def encode(self, rid: Union[int, str, None]) -> bytes:
        """The request as one line of JSON-RPC; ``rid=None`` makes it a notification."""
        msg: dict[str, Any] = {"jsonrpc": "2.0", "method": self.method}
        if rid is not None:
            msg["id"] = rid
        if self.params is not None:
            msg["params"] = self.params
        return json.dumps(msg, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8") + b"\n"

    def __repr__(self) -> str:
        return f"Request({self.method!r}, {self.params!r})"


class Base:
    """What the builders need from a client: the default namespace."""

    default_ns: Optional[str] = None
    agent: Optional[str] = None

    def _ns(self, ns: Optional[str]) -> Optional[str]:
        return ns if ns is not None else self.default_ns


def _strs(value: Optional[Union[str, Iterable[str]]]) -> Optional[list[str]]:
    """Tags or ids: a single string counts as a list of one."""
    if value is None:
        return None
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value]


def _params(**kw: Any) -> dict[str, Any]:
    """Drops absent (None) members; the daemon takes absent and null alike."""
    return {k: v for k, v in kw.items() if v is not None}


# --- builders ---------------------------------------------------------------
# Each is a plain function taking the client first, so that every flavour can
# wrap it. Their docstrings are the methods' documentation.


def hello(c: Base, *, client: Optional[str] = None, agent: Optional[str] = None) -> Request[HelloResult]:
    """trail.hello: introduces the client and sets the connection's default
    agent (later writes that name no agent are stamped with it). Returns the
    daemon's name, version, protocol, store, limits and defaults."""
    return Request("trail.hello", _params(client=client, agent=agent))


def deposit(c: Base, body: str, *, ns: Optional[str] = None, tags: Optional[Tags] = None,
            after: Optional[Ids] = None, agent: Optional[str] = None, strength: Optional[float] = None,
            force: Optional[bool] = None, merge_similar: Optional[float] = None) -> Request[DepositResult]:
    """trail.deposit: leaves a note (or reinforces it when the body is already
    there: same id, ``created`` False, ``strength`` added). ``after`` lists the
    notes this one was reached from (ids or prefixes); each becomes a trail to
    it. ``force=True`` revives a retracted body. Returns ``id``, ``ns``,
    ``created``, ``weight``, ``deposits``.

    ``merge_similar`` (0 < x <= 1) merges by meaning: when a live note with
    another body has a cosine similarity of at least ``merge_similar`` with
    this one, the deposit goes to that note (its body stays; this one is kept
    in its history). The result then also has ``merged`` (bool) and, when
    merged, ``similarity``, with that note's ``id``. A correction is never
    merged: when that note disagrees on a decisive token (a number, version,
    name, path, flag, quoted string or a negation), the body is deposited as
    its own note after it, and ``contests`` lists the notes it disagrees
    with. Raises :class:`SemanticUnavailable` on a daemon without its
    embedding model."""
    return Request("trail.deposit", _params(body=body, ns=c._ns(ns), tags=_strs(tags), after=_strs(after),
                                            agent=agent, strength=strength, force=force,
                                            merge_similar=merge_similar))


def get(c: Base, id: str, *, ns: Optional[str] = None) -> Request[GetResult]:
    """trail.get: reads one note in any state. Returns ``{"note": {...}}``."""
    return Request("trail.get", _params(id=id, ns=c._ns(ns)))


def reinforce(c: Base, id: str, *, delta: Optional[float] = None, ns: Optional[str] = None,
              agent: Optional[str] = None) -> Request[ReinforceResult]:
    """trail.reinforce: adds ``delta`` (default 1.0; negative repels) to the
    note's decayed weight, never below 0. Returns ``id`` and ``weight``."""
    return Request("trail.reinforce", _params(id=id, ns=c._ns(ns), delta=delta, agent=agent))


def repel(c: Base, id: str, amount: float = 1.0, *, ns: Optional[str] = None,
          agent: Optional[str] = None) -> Request[ReinforceResult]:
    """Repels a note: trail.reinforce with ``delta = -amount`` (``amount`` >= 0,
    default 1.0). The weight never goes below 0. Returns ``id`` and ``weight``."""
    if not amount >= 0:
        raise ValueError(f"repel amount must be a number >= 0, got {amount!r}; use reinforce() to add weight")
    return Request("trail.reinforce", _params(id=id, ns=c._ns(ns), delta=-float(amount), agent=agent))


def sense(c: Base, query: Optional[str] = None, *, ns: Optional[str] = None, tags: Optional[Tags] = None,
          any_tags: Optional[Tags] = None, limit: Optional[int] = None, budget_bytes: Optional[int] = None,
          min_weight: Optional[float] = None, include_faded: Optional[bool] = None,
          similar: Optional[str] = None, min_similarity: Optional[float] = None) -> Request[SenseResult]:
    """trail.sense: the namespace's notes, heaviest first, or matching the
    full-text ``query`` scored by weight and relevance. ``tags``: all of them;
    ``any_tags``: at least one. ``budget_bytes`` takes notes in order while
    their bodies fit in what is left. Returns ``{"notes": [...]}``, each note
    with its ``score``.

    ``similar`` finds notes by meaning: text saying what you look for, in
    your own words. Each note then carries ``similarity`` (the cosine of its
    embedding with the text's, -1..1; ``None`` for a note found by ``query``
    words that is not embedded yet), and with ``query`` too the two orders
    are fused. ``min_similarity`` leaves out notes less similar than it.
    Raises :class:`SemanticUnavailable` on a daemon without its embedding
    model."""
    return Request("trail.sense", _params(ns=c._ns(ns), query=query, tags=_strs(tags), any_tags=_strs(any_tags),
                                          limit=limit, budget_bytes=budget_bytes, min_weight=min_weight,
                                          include_faded=include_faded, similar=similar,
                                          min_similarity=min_similarity))


def link(c: Base, from_: str, to: str, *, delta: Optional[float] = None, ns: Optional[str] = None,
         agent: Optional[str] = None) -> Request[LinkResult]:
    """trail.link: strengthens (negative ``delta`` weakens) the trail
    ``from_ -> to``. Returns ``from``, ``to`` (whole ids) and ``weight``."""
    return Request("trail.link", _params(**{"from": from_}, to=to, ns=c._ns(ns), delta=delta, agent=agent))


def follow(c: Base, from_: str, *, direction: Optional[Direction] = None, limit: Optional[int] = None,
           explore: Optional[float] = None, seed: Optional[int] = None, include_faded: Optional[bool] = None,
           ns: Optional[str] = None) -> Request[FollowResult]:
    """trail.follow: the trails out of (``direction="forward"``, the default),
    into (``"backward"``) or both ways from a note, strongest first, or drawn
    at random with ``explore`` in (0, 1] (``seed`` replays a draw). Returns
    ``from``, ``seed`` and ``trails``: ``{to, weight, direction, note}``."""
    return Request("trail.follow", _params(**{"from": from_}, ns=c._ns(ns), direction=direction, limit=limit,
                                           explore=explore, seed=seed, include_faded=include_faded))


def retract(c: Base, id: str, reason: str, *, ns: Optional[str] = None,
            agent: Optional[str] = None) -> Request[RetractResult]:
    """trail.retract: withdraws a note with a ``reason`` others will see. It is
    kept (history) but no longer sensed or followed. Returns ``id`` and
    ``state``."""
    return Request("trail.retract", _params(id=id, reason=reason, ns=c._ns(ns), agent=agent))


def revive(c: Base, id: str, *, ns: Optional[str] = None, agent: Optional[str] = None) -> Request[ReviveResult]:
    """trail.revive: makes a retracted or archived note live again. Returns
    ``{"note": {...}}``."""
    return Request("trail.revive", _params(id=id, ns=c._ns(ns), agent=agent))


def stats(c: Base, *, ns: Optional[str] = None) -> Request[StatsResult]:
    """trail.stats: counts, total weight, store size, uptime, connections and
    the last compaction of one namespace."""
    return Request("trail.stats", _params(ns=c._ns(ns)))


def configure_namespace(c: Base, ns: str, *, half_life_s: Optional[float] = None,
                        evaporate_below: Optional[float] = None,
                        max_note_bytes: Optional[int] = None,
                        contest_similarity: Optional[float] = None) -> Request[NamespaceSettings]:
    """trail.namespace.configure: creates a namespace or changes its settings
    (those left out keep their value). ``contest_similarity`` (0 < x <= 1,
    default 0.9) is how close two notes that disagree on a decisive token
    must be to contest each other. Returns the settings."""
    return Request("trail.namespace.configure", _params(ns=ns, half_life_s=half_life_s,
                                                        evaporate_below=evaporate_below,
                                                        max_note_bytes=max_note_bytes,
                                                        contest_similarity=contest_similarity))


def list_namespaces(c: Base) -> Request[NamespaceListResult]:
    """trail.namespace.list: every namespace with its settings and counts."""
    return Request("trail.namespace.list", None)


def compact(c: Base, *, ns: Optional[str] = None) -> Request[CompactionReport]:
    """trail.compact: runs the compactor now on ``ns`` (the client's
    ``default_ns`` when not given; every namespace when neither is set).
    Raises MethodNotFound on a traild built without the compactor."""
    return Request("trail.compact", _params(ns=c._ns(ns)))


def export(c: Base, *, ns: Optional[str] = None, cursor: Optional[str] = None,
           limit: Optional[int] = None) -> Request[ExportResult]:
    """trail.export (beyond the contract): one page of a namespace's notes in
    every state, with their trails, as records ``import_records`` takes back.
    Pass the answer's ``cursor`` for the next page (``None`` after the last)."""
    return Request("trail.export", _params(ns=c._ns(ns), cursor=cursor, limit=limit))


def import_records(c: Base, records: Sequence[Mapping[str, Any]], *, ns: Optional[str] = None,
                   stage: Optional[str] = None, commit: Optional[bool] = None) -> Request[ImportResult]:
    """trail.import (beyond the contract): restores records as ``export``
    gives them (at most 1000 per call), all in one transaction. With
    ``stage`` and ``commit=False`` they are held on this connection until a
    call with ``commit=True`` under the same name applies them all."""
    return Request("trail.import", _params(records=[dict(r) for r in records], ns=c._ns(ns), stage=stage,
                                           commit=commit))


def watch(c: Base, *, ns: Optional[str] = None, tags: Optional[Tags] = None) -> Request[WatchResult]:
    """trail.watch: subscribes to events on ``ns`` (notes carrying all
    ``tags``)."""
    return Request("trail.watch", _params(ns=c._ns(ns), tags=_strs(tags)))


def unwatch(c: Base, subscription: str) -> Request[UnwatchResult]:
    """trail.unwatch: ends a subscription of this connection."""
    return Request("trail.unwatch", {"subscription": subscription})


def call(c: Base, method: str, params: Optional[dict[str, Any]] = None) -> Request[Any]:
    """Any method by name, with ``params`` as given (no default namespace is
    added). Returns the ``result`` as the daemon sent it."""
    return Request(method, dict(params) if params is not None else None)


# --- wire helpers shared by both flavours -------------------------------------


def normalize_id(rid: Any) -> Any:
    """Numeric ids come back as JSON numbers; 3.0 and 3 are the same id."""
    if isinstance(rid, float) and rid.is_integer():
        return int(rid)
    return rid


def raw_line(line: Union[str, bytes]) -> tuple[bytes, str, Any]:
    """Prepares a raw line for ``send_raw``: returns the bytes to send and what
    answer to wait for: ``("id", value)`` for a request with a usable id,
    ``("none", None)`` for a notification (no answer comes), ``("null",
    None)`` for anything the daemon will answer with ``id: null``."""
    data = line.encode("utf-8") if isinstance(line, str) else bytes(line)
    if not data.endswith(b"\n"):
        data += b"\n"
    try:
        msg = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return data, "null", None
    if isinstance(msg, list):
        raise ValueError("send_raw() takes one request per line, not a batch")
    if isinstance(msg, dict):
        if "id" not in msg:
            return data, "none", None
        rid = msg["id"]
        if isinstance(rid, str) or (isinstance(rid, (int, float)) and not isinstance(rid, bool)):
            return data, "id", normalize_id(rid)
    return data, "null", None
