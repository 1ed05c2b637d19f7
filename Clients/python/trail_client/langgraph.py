"""A LangGraph store backed by traild: ``TrailStore``, a
``langgraph.store.base.BaseStore``.

    from trail_client.langgraph import TrailStore
    store = TrailStore()                      # the socket as Trail() finds it
    graph = builder.compile(store=store)      # tools read it through InjectedStore

How LangGraph's items live in trail (docs/frameworks.md says it for users):

- Every item is a note of one trail namespace (``ns``, default
  ``langgraph``). Its body is JSON: ``{"created_at", "key", "namespace",
  "value"}``, so two keys holding the same value are two notes, and the
  namespace and key come back from the body as they were given.
- Its tags find it: ``lg`` on every item, ``lgk:HASH`` for its namespace and
  key, ``lgp:HASH`` for each prefix of its namespace (HASH: the first 16 hex
  digits of the SHA-256 of the JSON of the labels). A namespace holds at most
  14 labels (16 tags a note).
- ``put`` over an item deposits the new body (linked to the old note with
  ``after``, ``created_at`` kept) and then retracts the old note with a
  reason: the old value stays in the note's history, and no moment shows no
  item. ``delete`` retracts with a reason. A value put again after it was
  replaced comes back with its history (a forced deposit revives it).
- ``search(query=...)`` goes by meaning (``similar``) when traild has the
  model, by words otherwise; its ``score`` is the cosine (by meaning) or
  trail's score (by words). Without a query, items come strongest first
  (the weight that puts and decay leave), newest first among equals.
  ``filter`` applies to the value: exact match, and ``$eq $ne $gt $gte $lt
  $lte``, as LangGraph's own stores do.
- The store does not expire items (``supports_ttl`` is False: decay ranks,
  it does not delete). A namespace the store creates gets
  ``evaporate_below`` 0, so its items never fade out of reach; an existing
  namespace keeps its settings.
- ``index`` is accepted and ignored: traild embeds every note whole.

``abatch`` runs ``batch`` on a worker thread; the connection is shared and
its calls are serialised.
"""
from __future__ import annotations

import asyncio
import datetime
import hashlib
import json
from typing import Any, Iterable, Iterator, Mapping, Optional

try:
    from langgraph.store.base import (
        BaseStore,
        GetOp,
        InvalidNamespaceError,
        Item,
        ListNamespacesOp,
        MatchCondition,
        Op,
        PutOp,
        Result,
        SearchItem,
        SearchOp,
    )
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("trail_client.langgraph needs langgraph: pip install 'trail-client[langgraph]'") from exc

from .errors import InvalidParams, NoteTooLarge, Retracted, TrailError, UnknownNote
from .sync import Trail

#: The tag every item carries.
ITEM_TAG = "lg"
#: Labels a namespace may have: 16 tags a note, less the item and key tags.
MAX_DEPTH = 14
#: Notes one sense returns at most (the contract's limit); a prefix with more
#: items is read page by page with trail.export.
SENSE_LIMIT = 1000


def _hash(parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:16]


def key_tag(namespace: tuple[str, ...], key: str) -> str:
    """The tag of one item (its namespace and key)."""
    return "lgk:" + _hash([list(namespace), key])


def prefix_tag(prefix: tuple[str, ...]) -> str:
    """The tag every item under ``prefix`` carries."""
    return "lgp:" + _hash(list(prefix))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat()


def _time(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


class _Stored:
    """One live note that holds an item."""

    def __init__(self, note: Mapping[str, Any], envelope: dict[str, Any]) -> None:
        self.note = note
        self.namespace = tuple(envelope["namespace"])
        self.key = envelope["key"]
        self.value = envelope["value"]
        self.created_at = envelope["created_at"]

    @property
    def id(self) -> str:
        return str(self.note["id"])

    @property
    def updated_at(self) -> datetime.datetime:
        return _time(self.note["updated_at"])

    def item(self) -> Item:
        return Item(value=self.value, key=self.key, namespace=self.namespace,
                    created_at=_time(self.created_at), updated_at=self.updated_at)

    def search_item(self, score: Optional[float]) -> SearchItem:
        return SearchItem(namespace=self.namespace, key=self.key, value=self.value,
                          created_at=_time(self.created_at), updated_at=self.updated_at, score=score)


def _envelope(note: Mapping[str, Any]) -> Optional[dict[str, Any]]:
    """The item a note's body holds, or None for a note that is not one."""
    try:
        e = json.loads(note["body"])
    except (ValueError, TypeError):
        return None
    if not isinstance(e, dict) or not {"namespace", "key", "value", "created_at"} <= e.keys():
        return None
    if not isinstance(e["namespace"], list) or not isinstance(e["key"], str) or not isinstance(e["value"], dict):
        return None
    return e


def _stored(notes: Iterable[Mapping[str, Any]]) -> list[_Stored]:
    out = []
    for n in notes:
        e = _envelope(n)
        if e is not None:
            out.append(_Stored(n, e))
    return out


def _check_namespace(namespace: tuple[str, ...]) -> None:
    if len(namespace) > MAX_DEPTH:
        raise InvalidNamespaceError(
            f"namespace {namespace!r} has {len(namespace)} labels; TrailStore takes at most {MAX_DEPTH} "
            "(each prefix is a tag of the note, and a note carries at most 16 tags)")


# --- filters, as LangGraph's own stores apply them ----------------------------------

def _compare(value: Any, wanted: Any) -> bool:
    if isinstance(wanted, dict):
        if any(k.startswith("$") for k in wanted):
            return all(_operator(value, op, operand) for op, operand in wanted.items())
        if not isinstance(value, dict):
            return False
        return all(_compare(value.get(k), v) for k, v in wanted.items())
    if isinstance(wanted, (list, tuple)):
        return (isinstance(value, (list, tuple)) and len(value) == len(wanted)
                and all(_compare(a, b) for a, b in zip(value, wanted)))
    return bool(value == wanted)


def _operator(value: Any, op: str, operand: Any) -> bool:
    if op == "$eq":
        return bool(value == operand)
    if op == "$ne":
        return bool(value != operand)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if value is None:
            return False
        try:
            a, b = float(value), float(operand)
        except (TypeError, ValueError):
            return False
        return {"$gt": a > b, "$gte": a >= b, "$lt": a < b, "$lte": a <= b}[op]
    raise ValueError(f"unsupported filter operator {op!r}: TrailStore takes $eq, $ne, $gt, $gte, $lt and $lte")


def _matches(filter: Optional[dict[str, Any]], value: dict[str, Any]) -> bool:
    return not filter or all(_compare(value.get(k), v) for k, v in filter.items())


def _namespace_matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if len(namespace) < len(path):
        return False
    pairs = zip(namespace, path) if condition.match_type == "prefix" else zip(reversed(namespace), reversed(path))
    if condition.match_type not in ("prefix", "suffix"):
        raise ValueError(f"unsupported match type {condition.match_type!r}")
    return all(p == "*" or n == p for n, p in pairs)


class TrailStore(BaseStore):
    """LangGraph's store on traild (see the module's doc for the mapping).

    ``socket_path`` and ``agent`` are as for :class:`trail_client.Trail`;
    ``ns`` is the trail namespace every item lives in. ``client`` lends an
    open connection instead (the store does not close it)."""

    supports_ttl = False

    def __init__(self, socket_path: Optional[str] = None, *, ns: str = "langgraph", agent: Optional[str] = None,
                 client: Optional[Trail] = None) -> None:
        self.ns = ns
        self._own = client is None
        self.trail = client if client is not None else Trail(socket_path, default_ns=ns, agent=agent,
                                                              client_name="trail-langgraph")
        self._prepared = False
        self._semantic: Optional[bool] = None

    def close(self) -> None:
        """Closes the connection the store opened (not one it was lent)."""
        if self._own:
            self.trail.close()

    def __enter__(self) -> "TrailStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- BaseStore ---------------------------------------------------------------

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Runs ``ops`` in order. Gets and puts of distinct keys in a row go
        together: their reads in one pipeline, then their deposits in one,
        then the retractions of what they replace in one (a batch of many
        keys costs three round trips, not three per key). A put that fails
        does not stop the others of its run; the first failure is raised
        when the run is over."""
        self._prepare()
        ops = list(ops)
        results: list[Result] = [None] * len(ops)
        i = 0
        while i < len(ops):
            op = ops[i]
            if isinstance(op, (GetOp, PutOp)):
                run, keys = [], set()
                while i < len(ops) and isinstance(ops[i], (GetOp, PutOp)):
                    key = (tuple(ops[i].namespace), ops[i].key)  # type: ignore[union-attr]
                    if key in keys:
                        break
                    keys.add(key)
                    run.append(i)
                    i += 1
                for index, result in zip(run, self._run_of_keys([ops[k] for k in run])):
                    results[index] = result
                continue
            if isinstance(op, SearchOp):
                results[i] = self._search(op)
            elif isinstance(op, ListNamespacesOp):
                results[i] = self._list_namespaces(op)
            else:
                raise ValueError(f"unknown operation {type(op).__name__}")
            i += 1
        return results

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return await asyncio.to_thread(self.batch, list(ops))

    # --- the operations -------------------------------------------------------------

    def _prepare(self) -> None:
        """Creates the namespace (items never fade: evaporate_below 0) unless it exists."""
        if self._prepared:
            return
        names = {n["ns"] for n in self.trail.list_namespaces()["namespaces"]}
        if self.ns not in names:
            self.trail.configure_namespace(self.ns, evaporate_below=0)
        self._semantic = self.trail.server is not None and self.trail.server.get("semantic") is not None
        self._prepared = True

    def _live_senses(self, keys: list[tuple[tuple[str, ...], str]]) -> list[list[_Stored]]:
        """For each (namespace, key): the live notes holding that item,
        newest first (one, unless two writers raced); one pipeline for all."""
        with self.trail.pipeline() as p:
            for namespace, key in keys:
                p.sense(ns=self.ns, tags=[key_tag(namespace, key)], include_faded=True, limit=SENSE_LIMIT)
        out = []
        for (namespace, key), answer in zip(keys, p.results or []):
            found = [s for s in _stored(answer["notes"]) if s.namespace == namespace and s.key == key]
            out.append(sorted(found, key=lambda s: (s.updated_at, s.id), reverse=True))
        return out

    def _run_of_keys(self, ops: list[Any]) -> list[Result]:
        """Gets and puts of distinct keys (see `batch`)."""
        for op in ops:
            if isinstance(op, PutOp) and op.value is not None:
                _check_namespace(tuple(op.namespace))
        reachable = [i for i, op in enumerate(ops) if len(op.namespace) <= MAX_DEPTH]
        lives = dict(zip(reachable, self._live_senses([(tuple(ops[i].namespace), ops[i].key) for i in reachable])))
        results: list[Result] = []
        deposits: list[tuple[PutOp, str, dict[str, Any], list[_Stored]]] = []
        retractions: list[tuple[str, str]] = []
        failures: list[Exception] = []
        for i, op in enumerate(ops):
            old = lives.get(i, [])
            namespace = tuple(op.namespace)
            if isinstance(op, GetOp):
                results.append(old[0].item() if old else None)
                continue
            results.append(None)
            if op.value is None:
                retractions += [(s.id, f"deleted: key {op.key!r} in {'/'.join(namespace)}, by a LangGraph store delete")
                                for s in old]
                continue
            envelope = {"created_at": old[0].created_at if old else _now(), "key": op.key,
                        "namespace": list(namespace), "value": dict(op.value)}
            try:
                body = json.dumps(envelope, sort_keys=True, ensure_ascii=False, allow_nan=False)
            except (TypeError, ValueError) as exc:
                failures.append(ValueError(f"the value of {op.key!r} in {namespace!r} is not JSON: {exc}"))
                continue
            tags = [ITEM_TAG, key_tag(namespace, op.key)] + [prefix_tag(namespace[:d]) for d in range(1, len(namespace) + 1)]
            # A value put again unchanged is the same note: it is deposited again, after nothing new.
            own = hashlib.sha256(body.encode()).hexdigest()
            after = [s.id for s in old if s.id != own][:32] or None
            deposits.append((op, body, {"ns": self.ns, "tags": tags, "after": after}, old))
        with self.trail.pipeline() as p:
            for _, body, how, _ in deposits:
                p.deposit(body, **how)
            answers = p.execute(return_exceptions=True)
        for (op, body, how, old), answer in zip(deposits, answers):
            try:
                if isinstance(answer, Retracted):
                    # This very value was put before and replaced or deleted: it comes back with its history.
                    answer = self.trail.deposit(body, force=True, **how)
                if isinstance(answer, Exception):
                    raise answer
            except NoteTooLarge as exc:
                failures.append(ValueError(
                    f"trail refused the value of {op.key!r} in {tuple(op.namespace)!r}: as JSON with its key and "
                    f"namespace it is {len(body.encode())} bytes, and trail namespace {self.ns!r} takes notes of at "
                    f"most {exc.data.get('limit', 'its max_note_bytes')} bytes (raise it with `trailctl --ns "
                    f"{self.ns} ns configure --max-note-bytes N`, up to 65536, or keep smaller values)"))
                continue
            except InvalidParams as exc:
                failures.append(ValueError(f"trail refused the value of {op.key!r} in {tuple(op.namespace)!r}: {exc}"))
                continue
            except Exception as exc:  # the daemon gone, storage unavailable: the others' retractions still go out
                failures.append(exc)
                continue
            new = answer["id"]
            retractions += [(s.id, f"replaced by a put of key {op.key!r} in {'/'.join(op.namespace)}: now note {new[:12]}")
                            for s in old if s.id != new]
        if retractions:
            with self.trail.pipeline() as p:
                for note, reason in retractions:
                    p.retract(note, reason, ns=self.ns)
                for outcome in p.execute(return_exceptions=True):
                    # Retracted or unknown: another writer got there first, the item is gone either way.
                    if isinstance(outcome, Exception) and not isinstance(outcome, (Retracted, UnknownNote)):
                        failures.append(outcome)
        if failures:
            raise failures[0]
        return results

    def _candidates(self, prefix: tuple[str, ...], query: Optional[str]) -> Iterator[tuple[_Stored, Optional[float]]]:
        """The items under ``prefix`` in the order a search gives them, with their scores."""
        tags = [prefix_tag(prefix)] if prefix else [ITEM_TAG]
        if query:
            by_meaning = bool(self._semantic)
            if by_meaning:
                notes = self.trail.sense(ns=self.ns, tags=tags, include_faded=True, limit=SENSE_LIMIT,
                                         similar=query)["notes"]
            else:
                notes = self.trail.sense(query, ns=self.ns, tags=tags, include_faded=True, limit=SENSE_LIMIT)["notes"]
            for s in _stored(notes):
                yield s, (s.note.get("similarity") if by_meaning else s.note.get("score"))
            return
        notes = self.trail.sense(ns=self.ns, tags=tags, include_faded=True, limit=SENSE_LIMIT)["notes"]
        if len(notes) < SENSE_LIMIT:
            stored = _stored(notes)
        else:
            stored = [s for s in self._every_item() if s.namespace[:len(prefix)] == prefix]
        # Strongest first, newest first among equals.
        for s in sorted(stored, key=lambda s: (-round(float(s.note["weight"]), 9), -s.updated_at.timestamp(), s.id)):
            yield s, None

    def _search(self, op: SearchOp) -> list[SearchItem]:
        prefix = tuple(op.namespace_prefix)
        if len(prefix) > MAX_DEPTH:
            return []
        out: list[SearchItem] = []
        skipped = 0
        for s, score in self._candidates(prefix, op.query):
            if s.namespace[:len(prefix)] != prefix or not _matches(op.filter, s.value):
                continue
            if skipped < op.offset:
                skipped += 1
                continue
            if len(out) >= op.limit:
                break
            out.append(s.search_item(score))
        return out

    def _every_item(self) -> Iterator[_Stored]:
        """Every live item of the store's namespace, page by page."""
        cursor = None
        while True:
            page = self.trail.export(ns=self.ns, cursor=cursor, limit=1000)
            for record in page["records"]:
                note = record.get("note", record)
                if note.get("state") in ("live", "faded") and ITEM_TAG in note.get("tags", ()):
                    e = _envelope(note)
                    if e is not None:
                        yield _Stored(note, e)
            cursor = page.get("cursor")
            if not cursor:
                return

    def _list_namespaces(self, op: ListNamespacesOp) -> list[tuple[str, ...]]:
        found = {s.namespace for s in self._every_item()}
        if op.match_conditions:
            found = {n for n in found if all(_namespace_matches(c, n) for c in op.match_conditions)}
        if op.max_depth is not None:
            found = {n[:op.max_depth] for n in found}
        return sorted(found)[op.offset:op.offset + op.limit]


__all__ = ["TrailStore", "key_tag", "prefix_tag", "TrailError"]
