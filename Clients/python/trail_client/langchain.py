"""A LangChain retriever over a trail namespace: ``TrailRetriever``.

    from trail_client.langchain import TrailRetriever
    retriever = TrailRetriever(ns="myproject", k=4)
    docs = retriever.invoke("why does the build fail on a fresh machine?")

Each note found is a ``Document`` whose ``page_content`` is the note's body,
``id`` its id, and ``metadata`` what trail knows of it (``ns``, ``tags``,
``weight``, ``score``, ``similarity`` when found by meaning,
``contested_by``, ``agent``, ``created_at``, ``updated_at``). ``by`` chooses
how the question is matched: ``"auto"`` (by meaning when traild has its
model, by words otherwise), ``"meaning"`` or ``"words"``. ``k`` can also be
given per call (``retriever.invoke(question, k=2)``). Reading changes
nothing: to tell the colony a note helped, reinforce it with the client.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

try:
    from langchain_core.callbacks import CallbackManagerForRetrieverRun
    from langchain_core.documents import Document
    from langchain_core.retrievers import BaseRetriever
    from pydantic import ConfigDict, Field, PrivateAttr
except ImportError as exc:  # pragma: no cover - the message is the point
    raise ImportError("trail_client.langchain needs langchain-core: pip install 'trail-client[langchain]'") from exc

from .sync import Trail
from .types import Note

#: Documents a call returns at most: trail.sense's own limit.
MAX_K = 1000


class TrailRetriever(BaseRetriever):
    """Notes of trail namespace ``ns`` that answer a question, strongest first.

    ``socket_path`` as for :class:`trail_client.Trail` (None: found as the
    contract says); ``k`` notes at most, within ``budget_bytes`` of bodies
    when given; ``tags`` (all of them) and ``any_tags`` filter;
    ``min_similarity`` drops notes found by meaning below it."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    socket_path: Optional[str] = None
    ns: str = "default"
    k: int = Field(default=4, ge=1, le=MAX_K)
    by: Literal["auto", "meaning", "words"] = "auto"
    budget_bytes: Optional[int] = None
    tags: Optional[list[str]] = None
    any_tags: Optional[list[str]] = None
    min_similarity: Optional[float] = None
    include_faded: bool = False

    _trail: Optional[Trail] = PrivateAttr(default=None)

    def _client(self) -> Trail:
        if self._trail is None:
            self._trail = Trail(self.socket_path, default_ns=self.ns, client_name="trail-langchain")
        return self._trail

    def close(self) -> None:
        """Closes the connection, if one was opened (the next call opens another)."""
        if self._trail is not None:
            self._trail.close()
            self._trail = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun,
                                k: Optional[int] = None) -> list[Document]:
        t = self._client()
        by_meaning = self.by == "meaning" or (
            self.by == "auto" and t.server is not None and t.server.get("semantic") is not None)
        limit = self.k if k is None else k
        if not 1 <= limit <= MAX_K:
            raise ValueError(f"k is {limit}: TrailRetriever returns 1 to {MAX_K} documents (trail.sense's limit)")
        common: dict[str, Any] = {"ns": self.ns, "tags": self.tags, "any_tags": self.any_tags, "limit": limit,
                                  "budget_bytes": self.budget_bytes, "include_faded": self.include_faded or None}
        if by_meaning:
            notes = t.sense(similar=query, min_similarity=self.min_similarity, **common)["notes"]
        else:
            notes = t.sense(query, **common)["notes"]
        return [_document(n) for n in notes]


def _document(n: Note) -> Document:
    metadata: dict[str, Any] = {
        "ns": n["ns"], "tags": list(n["tags"]), "weight": n["weight"], "score": n.get("score"),
        "deposits": n["deposits"], "agent": n["agent"], "after": list(n["after"]),
        "contested_by": list(n.get("contested_by") or []),
        "created_at": n["created_at"], "updated_at": n["updated_at"],
    }
    if n.get("similarity") is not None:
        metadata["similarity"] = n.get("similarity")
    return Document(page_content=n["body"], id=n["id"], metadata=metadata)


__all__ = ["TrailRetriever"]
