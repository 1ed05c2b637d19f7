"""trail_client.langchain.TrailRetriever against a real traild: LangChain's
own standard tests (`langchain-tests`' RetrieversIntegrationTests) on a
daemon without the model (the retriever matches words), and by meaning on
one with the real model; filters, budget, metadata, and bad input."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

pytest.importorskip("langchain_tests", reason="pip install langchain-tests (make test installs it)")

from langchain_core.documents import Document  # noqa: E402
from langchain_tests.integration_tests import RetrieversIntegrationTests  # noqa: E402

from trail_client import Trail  # noqa: E402
from trail_client.errors import DaemonUnavailable, SemanticUnavailable  # noqa: E402
from trail_client.langchain import TrailRetriever  # noqa: E402

CLIENT_DIR = Path(__file__).resolve().parents[1]
MODEL = Path(os.environ.get("TRAIL_MODEL_DIR", CLIENT_DIR.parents[1] / "models" / "all-MiniLM-L6-v2"))
STANDARD_NS = "langchain-standard"
NOTES = [
    ("The build fails on a fresh machine until libzstd-dev is installed.", ["build"]),
    ("A clean build after a toolchain upgrade needs the module cache removed.", ["build"]),
    ("The release build takes nine minutes on two cores.", ["build", "ci"]),
    ("PostgreSQL tests need a throwaway cluster started by initdb.", ["tests"]),
    ("Ants follow the strongest pheromone trail to food.", []),
]


def deposit_notes(sock: str, ns: str) -> None:
    with Trail(sock, default_ns=ns) as t:
        for body, tags in NOTES:
            t.deposit(body, tags=tags or None)


class TestTrailRetrieverStandard(RetrieversIntegrationTests):
    """LangChain's standard retriever tests, as they are (its async one runs
    under pytest-asyncio, strict here, hence the mark)."""

    pytestmark = [pytest.mark.asyncio,
                  pytest.mark.filterwarnings("ignore:The test <Function .* is not an async function")]
    socket = ""

    @pytest.fixture(autouse=True)
    def _notes(self, daemon) -> None:
        type(self).socket = daemon.sock
        deposit_notes(daemon.sock, STANDARD_NS)

    @property
    def retriever_constructor(self) -> type[TrailRetriever]:
        return TrailRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"socket_path": self.socket, "ns": STANDARD_NS}

    @property
    def retriever_query_example(self) -> str:
        return "build"


def test_documents_carry_what_trail_knows_and_filters_hold(daemon, ns):
    deposit_notes(daemon.sock, ns)
    r = TrailRetriever(socket_path=daemon.sock, ns=ns, k=10)
    docs = r.invoke("build")
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    first = docs[0]
    with Trail(daemon.sock, default_ns=ns) as t:
        note = t.get(first.id)["note"]
    assert first.page_content == note["body"]
    assert first.metadata["ns"] == ns and first.metadata["tags"] == note["tags"]
    assert first.metadata["weight"] == pytest.approx(note["weight"], rel=1e-3)
    assert first.metadata["score"] is not None and "similarity" not in first.metadata
    assert [d.page_content for d in TrailRetriever(socket_path=daemon.sock, ns=ns, tags=["ci"]).invoke("build")] == \
        [NOTES[2][0]]
    assert len(r.invoke("build", k=1)) == 1
    budget = TrailRetriever(socket_path=daemon.sock, ns=ns, k=10, budget_bytes=len(docs[0].page_content.encode()))
    assert [d.page_content for d in budget.invoke("build")] == [docs[0].page_content]
    assert r.invoke("nothing-matches-this") == []
    r.close()
    assert len(r.invoke("build")) == 3  # a closed retriever opens a new connection


def test_by_meaning_with_the_model(daemon_factory, ns):
    assert (MODEL / "model.safetensors").is_file(), f"the model is missing in {MODEL}: run make model"
    d = daemon_factory(args=["--model-dir", str(MODEL)])
    deposit_notes(d.sock, ns)
    with Trail(d.sock, default_ns=ns) as t:
        for _ in range(600):
            if (t.stats(ns=ns).get("embedding") or {}).get("pending", 1) == 0:
                break
            time.sleep(0.05)
    r = TrailRetriever(socket_path=d.sock, ns=ns, k=2)
    docs = r.invoke("insects marking routes with chemical signals")
    assert docs[0].page_content == NOTES[4][0]
    assert -1 <= docs[0].metadata["similarity"] <= 1
    words = TrailRetriever(socket_path=d.sock, ns=ns, by="words").invoke("insects marking routes")
    assert words == []  # no note has these words


def test_bad_input(daemon, ns, tmp_path):
    with pytest.raises(DaemonUnavailable, match="traild"):
        TrailRetriever(socket_path=str(tmp_path / "none.sock")).invoke("build")
    with pytest.raises(SemanticUnavailable):
        TrailRetriever(socket_path=daemon.sock, ns=ns, by="meaning").invoke("build")
    with pytest.raises(ValueError):
        TrailRetriever(socket_path=daemon.sock, ns=ns, by="sideways")
    for k in (0, -1, 1001):
        with pytest.raises(ValueError, match="k"):
            TrailRetriever(socket_path=daemon.sock, ns=ns, k=k)
        with pytest.raises(ValueError, match=f"k is {k}: TrailRetriever returns 1 to 1000 documents"):
            TrailRetriever(socket_path=daemon.sock, ns=ns).invoke("build", k=k)
    deposit_notes(daemon.sock, ns)
    assert len(TrailRetriever(socket_path=daemon.sock, ns=ns).invoke("build")) == 3  # still serving
