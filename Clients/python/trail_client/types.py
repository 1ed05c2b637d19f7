"""Shapes of the daemon's answers, as TypedDicts.

Every client method returns the JSON-RPC ``result`` object exactly as the
daemon sent it: a plain ``dict`` at run time, described here for type
checkers. Members the daemon may add in later versions are kept as they come.
"""
from __future__ import annotations

from typing import Any, Literal, Optional, TypedDict

NoteState = Literal["live", "faded", "archived", "retracted"]
Direction = Literal["forward", "backward", "both"]
EventKind = Literal["deposited", "reinforced", "linked", "retracted", "evaporated", "revived"]


class Retraction(TypedDict):
    reason: str
    agent: Optional[str]
    at: str


class _NoteBase(TypedDict):
    id: str
    ns: str
    body: str
    tags: list[str]
    after: list[str]
    weight: float
    rank: Optional[float]
    deposits: int
    agent: Optional[str]
    state: NoteState
    created_at: str
    updated_at: str
    retraction: Optional[Retraction]


class Note(_NoteBase, total=False):
    """A note. ``contested_by`` is there (in ``sense`` and ``get``) on a live
    note that live notes contest: close in meaning, they disagree with it on
    a decisive token (a number, version, name, path, flag, quoted string or
    a negation). Their ids, strongest first: try, then reinforce the one
    that holds and repel the other."""

    contested_by: list[str]


class _SensedNoteBase(Note):
    score: float


class SensedNote(_SensedNoteBase, total=False):
    """A note of ``trail.sense``'s answer. ``similarity`` is there when
    ``similar`` was asked: the cosine of the note's embedding with that text
    (-1..1), ``None`` for a note found by ``query`` words that is not
    embedded yet."""

    similarity: Optional[float]


class Limits(TypedDict):
    max_frame_bytes: int
    max_note_bytes: int
    max_note_bytes_cap: int
    max_tags: int
    max_tag_bytes: int
    max_after: int
    max_agent_bytes: int
    max_limit: int
    max_abs_number: float
    min_id_prefix: int
    max_batch: int


class NamespaceSettings(TypedDict):
    ns: str
    half_life_s: float
    evaporate_below: float
    max_note_bytes: int
    contest_similarity: float


class SemanticModel(TypedDict):
    """``trail.hello``'s ``semantic``: the embedding model of recall by meaning."""

    model: str
    dims: int


class _HelloBase(TypedDict):
    server: str
    version: str
    protocol: int
    store: str
    limits: Limits
    defaults: dict[str, Any]


class HelloResult(_HelloBase, total=False):
    """``semantic`` is ``None`` when the daemon has no embedding model (not
    installed, or turned off): ``similar`` and ``merge_similar`` are then
    refused with :class:`~trail_client.errors.SemanticUnavailable`."""

    semantic: Optional[SemanticModel]


class _DepositBase(TypedDict):
    id: str
    ns: str
    created: bool
    weight: float
    deposits: int


class DepositResult(_DepositBase, total=False):
    """``merged`` is there only when ``merge_similar`` was given: True when
    the deposit went to another note of similar meaning (``id`` is then that
    note's, ``created`` False), with ``similarity`` the cosine between them.
    ``contests`` (ids, nearest first) is there when the nearest note
    disagreed on a decisive token: a correction is never merged, so the body
    is a note of its own, after the notes it contests."""

    merged: bool
    similarity: float
    contests: list[str]


class NoteTrail(TypedDict):
    """A trail at one end of a note, in ``trail.get``: ``forward`` is this
    note -> ``other``, ``backward`` is ``other`` -> this note."""

    other: str
    weight: float
    direction: Literal["forward", "backward"]


class HistoryEntry(TypedDict):
    """One write that touched a note, in ``trail.get``'s ``history``. ``op`` is
    ``deposit``, ``redeposit``, ``merge``, ``reinforce``, ``link``,
    ``retract``, ``revive``, ``evaporate``, ``unarchive`` or ``import``. A
    ``merge`` is a deposit of another body merged into this note by meaning
    (``merge_similar``); its ``detail`` is that body."""

    at: str
    op: str
    agent: Optional[str]
    delta: Optional[float]
    detail: Optional[str]


class GetResult(TypedDict):
    note: Note
    trails: list[NoteTrail]
    history: list[HistoryEntry]


class ReinforceResult(TypedDict):
    id: str
    weight: float


class SenseResult(TypedDict):
    notes: list[SensedNote]


# "from" is a Python keyword, so these use the functional TypedDict syntax.
LinkResult = TypedDict("LinkResult", {"from": str, "to": str, "weight": float})
"""``trail.link``: the whole ids of both ends and the trail's weight after the change."""


class FollowedTrail(TypedDict):
    """One trail in ``trail.follow``'s answer: the note at the other end and the trail's weight."""

    to: str
    weight: float
    direction: Literal["forward", "backward"]
    note: Note


FollowResult = TypedDict("FollowResult", {"from": str, "trails": list[FollowedTrail], "seed": int})
"""``trail.follow``: the whole id of ``from``, the trails, and the seed used."""

TrailSegment = TypedDict("TrailSegment", {"from": str, "to": str, "weight": float})
"""The ``trail`` member of a ``linked`` event."""


class RetractResult(TypedDict):
    id: str
    state: Literal["retracted"]


class ReviveResult(TypedDict):
    note: Note


class CompactionReport(TypedDict):
    """``trail.compact``'s answer."""

    ns: Optional[str]
    evaporated: int
    archived_bytes: int
    ranked: int
    duration_ms: float


class LastCompaction(TypedDict, total=False):
    """``trail.stats``' ``compaction``: the namespace's last compaction run."""

    ns: str
    started_at: str
    duration_ms: float
    evaporated: int
    archived_bytes: int
    ranked: int
    rebased: bool


class EmbeddingProgress(TypedDict):
    """``trail.stats``' ``embedding``: the namespace's notes embedded by the
    model, and those waiting (a note is found by meaning once embedded)."""

    model: str
    embedded: int
    pending: int


class _StatsBase(TypedDict):
    ns: str
    notes: int
    live: int
    faded: int
    archived: int
    retracted: int
    edges: int
    total_weight: float
    store_bytes: int
    uptime_s: float
    connections: int
    archived_bytes: int
    compression_ratio: Optional[float]
    compaction: Optional[LastCompaction]


class StatsResult(_StatsBase, total=False):
    """``embedding`` is ``None`` when the daemon has no embedding model."""

    embedding: Optional[EmbeddingProgress]


class NamespaceInfo(NamespaceSettings):
    notes: int
    live: int
    faded: int
    archived: int
    retracted: int
    edges: int


class NamespaceListResult(TypedDict):
    namespaces: list[NamespaceInfo]


class ExportResult(TypedDict):
    """``trail.export`` (beyond the contract): one page of records; pass
    ``cursor`` back for the next (``None`` after the last page)."""

    ns: str
    settings: dict[str, Any]
    exported_at: str
    records: list[dict[str, Any]]
    cursor: Optional[str]


class ImportResult(TypedDict, total=False):
    """``trail.import`` (beyond the contract)."""

    ns: str
    notes: int
    created: int
    trails: int
    staged: int


class WatchResult(TypedDict):
    subscription: str


class UnwatchResult(TypedDict):
    ok: bool


class _EventBase(TypedDict):
    subscription: str
    event: EventKind
    note: Note


class Event(_EventBase, total=False):
    """The params of a ``trail.event`` notification. ``trail`` (a dict with
    ``from``, ``to`` and ``weight``) is present on ``linked`` events only;
    ``dropped`` (the subscription's events the daemon dropped just before this
    one, because the connection did not read them in time) only after a gap;
    ``seq`` is the write-log row of the event's write (a note's events come
    in its order)."""

    trail: TrailSegment
    dropped: int
    seq: int


__all__ = [
    "CompactionReport", "DepositResult", "Direction", "EmbeddingProgress", "Event", "EventKind", "ExportResult",
    "FollowResult",
    "GetResult", "HistoryEntry", "ImportResult", "LastCompaction", "NoteTrail",
    "HelloResult", "Limits", "LinkResult", "NamespaceInfo", "NamespaceListResult", "NamespaceSettings",
    "Note", "NoteState", "ReinforceResult", "RetractResult", "Retraction", "ReviveResult", "SemanticModel", "SenseResult",
    "SensedNote", "StatsResult", "FollowedTrail", "TrailSegment", "UnwatchResult", "WatchResult",
]
