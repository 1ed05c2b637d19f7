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


class Note(TypedDict):
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


class SensedNote(Note):
    score: float


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


class HelloResult(TypedDict):
    server: str
    version: str
    protocol: int
    store: str
    limits: Limits
    defaults: dict[str, Any]


class DepositResult(TypedDict):
    id: str
    ns: str
    created: bool
    weight: float
    deposits: int


class GetResult(TypedDict):
    note: Note


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
    ns: Optional[str]
    evaporated: int
    archived_bytes: int
    ranked: int
    duration_ms: float


class StatsResult(TypedDict):
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
    compaction: Optional[dict[str, Any]]


class NamespaceInfo(NamespaceSettings):
    notes: int
    live: int
    faded: int
    archived: int
    retracted: int
    edges: int


class NamespaceListResult(TypedDict):
    namespaces: list[NamespaceInfo]


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
    ``from``, ``to`` and ``weight``) is present on ``linked`` events only."""

    trail: TrailSegment


__all__ = [
    "CompactionReport", "DepositResult", "Direction", "Event", "EventKind", "FollowResult", "GetResult",
    "HelloResult", "Limits", "LinkResult", "NamespaceInfo", "NamespaceListResult", "NamespaceSettings",
    "Note", "NoteState", "ReinforceResult", "RetractResult", "Retraction", "ReviveResult", "SenseResult",
    "SensedNote", "StatsResult", "FollowedTrail", "TrailSegment", "UnwatchResult", "WatchResult",
]
