"""The corrections corpus (corrections.json): corrections are never merged, rewordings merge as before.

merge_similar folds a new note into an existing one when their cosine is at
or above the threshold (0.9 in use). A correction that changes ONE decisive
token of a note ("fix-3 resolved it" -> "fix-5 resolved it") sits at ~0.99
and was merged, losing the fact. The contract (SPEC §8, "a correction is
never merged") is that bodies disagreeing on a decisive token are kept apart:
numbers with their units, versions, negations, works/fails polarity,
identifiers (words with digits, dots, dashes or underscores), paths, flags,
KEY=value, environment variables, quoted strings, URLs.

The file holds:
  - "corrections": {"note", "correction", "kind"}: the same sentence with
    one decisive token changed (plus at most a couple of grammatical words,
    "does not work" -> "works"). Deposited after its note with
    merge_similar 0.9, a correction must stay a separate note.
  - "rewordings": {"note", "rewording"}: the same facts in slightly
    different words, every decisive token identical, the same negation.
    Deposited after its note, a rewording still merges as before (when the
    model puts it at or above the threshold).
This test checks the format only; no daemon is needed.
"""
from __future__ import annotations

import difflib
import json
import re
from collections import Counter
from pathlib import Path

CORPUS_FILE = Path(__file__).with_name("corrections.json")
KINDS = ("number", "unit", "version", "negation", "polarity", "identifier", "path",
         "flag", "key", "env", "quoted", "url", "region")
NEGATIONS = frozenset("not never no without cannot none nothing".split())


def load() -> dict:
    return json.loads(CORPUS_FILE.read_text(encoding="utf-8"))


def changed_words(a: str, b: str) -> int:
    """Words in the non-equal stretches of a word-level diff, counted on the longer side."""
    wa, wb = a.split(), b.split()
    ops = difflib.SequenceMatcher(a=wa, b=wb, autojunk=False).get_opcodes()
    return sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in ops if tag != "equal")


def decisive(text: str) -> Counter:
    """A crude pick of the tokens a rewording must keep: digits, inner . - _ = / $ quotes, flags, acronyms."""
    out = Counter()
    for raw in text.split():
        w = raw.lstrip("(").rstrip(".,;:!?)")
        if w and (re.search(r"[0-9]", w) or re.search(r"\w[./\-_=:]\w", w) or w[:1] in "-$/~`\"."
                or w[-1:] in "`\""
                or (len(w) > 1 and w.isupper())):
            out[w] += 1
    return out


def negated(text: str) -> bool:
    words = re.findall(r"[a-z']+", text.lower())
    return any(w in NEGATIONS or w.endswith("n't") for w in words)


def test_about_and_lists():
    corpus = load()
    assert isinstance(corpus.get("about"), str) and "§8" in corpus["about"]
    assert len(corpus["corrections"]) >= 60, len(corpus["corrections"])
    assert len(corpus["rewordings"]) >= 60, len(corpus["rewordings"])


def test_fields_are_strings_of_40_to_400_characters():
    corpus = load()
    for key, fields in (("corrections", {"note", "correction", "kind"}), ("rewordings", {"note", "rewording"})):
        for p in corpus[key]:
            assert set(p) == fields, p
            for f in fields - {"kind"}:
                assert isinstance(p[f], str) and 40 <= len(p[f]) <= 400, (f, p)


def test_every_kind_at_least_four_times():
    kinds = Counter(p["kind"] for p in load()["corrections"])
    assert set(kinds) <= set(KINDS), set(kinds) - set(KINDS)
    for kind in KINDS:
        assert kinds[kind] >= 4, (kind, kinds[kind])


def test_corrections_change_one_to_four_words():
    for p in load()["corrections"]:
        assert p["note"] != p["correction"], p
        assert 1 <= changed_words(p["note"], p["correction"]) <= 4, p


def test_rewordings_differ_and_keep_decisive_tokens():
    for p in load()["rewordings"]:
        assert p["note"] != p["rewording"], p
        assert changed_words(p["note"], p["rewording"]) >= 1, p
        assert decisive(p["note"]) == decisive(p["rewording"]), p
        assert negated(p["note"]) == negated(p["rewording"]), p


def test_no_duplicate_notes():
    corpus = load()
    texts = [p[f] for p in corpus["corrections"] for f in ("note", "correction")]
    texts += [p[f] for p in corpus["rewordings"] for f in ("note", "rewording")]
    assert len(set(texts)) == len(texts), [t for t, n in Counter(texts).items() if n > 1]


def test_the_helpers_themselves():
    assert changed_words("fix-3 resolved it", "fix-5 resolved it") == 1
    assert changed_words("it does not work here", "it works here") == 3
    assert decisive("set -j4 in ./build, see `ok` at https://x.io/a and RUST_LOG") == Counter(
        ["-j4", "./build", "`ok`", "https://x.io/a", "RUST_LOG"])
    assert negated("it doesn't") and negated("never") and not negated("it works")
