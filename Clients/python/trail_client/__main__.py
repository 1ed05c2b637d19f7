"""A small command line for scripts: ``python3 -m trail_client COMMAND ...``.

It speaks to traild through :class:`trail_client.Trail` and prints JSON (one
result per line) unless told otherwise; ``sense --format markdown`` writes a
block a prompt can include. Exit codes follow ``trailctl``: 0 ok, 1 the daemon
answered with an error, 2 usage, 3 the daemon cannot be reached.

Run ``python3 -m trail_client --help`` (or ``COMMAND --help``) for the list.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any, Iterable, Optional, Sequence, TextIO

from . import __version__
from .errors import DaemonUnavailable, TrailError, UnknownNote
from .sync import Trail
from .types import SensedNote

EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_UNREACHABLE = 0, 1, 2, 3


def _dump(obj: Any, out: TextIO) -> None:
    out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n")


def _read_ids(path: str) -> list[str]:
    """Ids from a file: one per line; blank lines and lines starting with # are skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError:
        return []
    return [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]


def _fmt_weight(w: float) -> str:
    if w >= 100:
        return f"{w:.0f}"
    if w >= 0.01:
        return f"{w:.2f}"
    return f"{w:.2g}"


def render_markdown(notes: Sequence[SensedNote], *, ns: str, id_width: int = 12, budget: Optional[int] = None,
                    query: Optional[str] = None, title: Optional[str] = None, now: Optional[float] = None,
                    similar: Optional[str] = None) -> str:
    """Sensed notes as a Markdown block for a prompt: one list item per note
    with its shortened id, weight and tags (and similarity, for a search by
    meaning), the body indented under it."""
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    heading = title or f"Trail notes (namespace `{ns}`)"
    lines = [f"## {heading}", ""]
    used = sum(len(n["body"].encode("utf-8")) for n in notes)
    if similar:
        what = f"close in meaning to `{similar}`" + (f" or matching `{query}`" if query else "") + ", best first"
    else:
        what = f"matching `{query}`, best first" if query else "heaviest first"
    budget_s = f", {used} of {budget} bytes of note text" if budget is not None else ""
    count = f"{len(notes)} note{'s' if len(notes) != 1 else ''}"
    lines.append(f"_{count}, {what}, sensed {stamp}{budget_s}. Ids are shortened to {id_width} digits; "
                 f"they work as they are in `get`, `follow`, `reinforce` and `after`._")
    lines.append("")
    if not notes:
        lines.append("_No notes here yet. Leave small notes as you work; the next agent will find them._")
    for n in notes:
        meta = f"w {_fmt_weight(n['weight'])}"
        similarity = n.get("similarity")
        if similar and similarity is not None:
            meta += f", similarity {similarity:.2f}"
        if n.get("tags"):
            meta += "; " + ", ".join(n["tags"])
        body_lines = n["body"].splitlines() or [""]
        lines.append(f"- `{n['id'][:id_width]}` ({meta}): {body_lines[0]}")
        lines.extend(f"  {line}" if line.strip() else "" for line in body_lines[1:])
    return "\n".join(lines) + "\n"


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python3 -m trail_client",
        description="Talk to traild from scripts. Prints JSON results, one per line.",
        epilog="Exit codes: 0 ok, 1 the daemon answered an error, 2 usage, 3 traild cannot be reached.")
    p.add_argument("--socket", help="traild's socket (default: $TRAIL_SOCKET, $XDG_RUNTIME_DIR/trail/traild.sock, "
                                    "/tmp/trail-$UID/traild.sock)")
    p.add_argument("--ns", default=os.environ.get("TRAIL_NS") or None,
                   help="namespace (default: $TRAIL_NS, else the daemon's default)")
    p.add_argument("--agent", default=os.environ.get("TRAIL_AGENT") or None,
                   help="agent name stamped on writes (default: $TRAIL_AGENT)")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for an answer (default 30)")
    p.add_argument("--version", action="version", version=f"trail_client {__version__}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def tags(sp: argparse.ArgumentParser, flag: str = "--tag", dest: str = "tags", what: str = "a tag") -> None:
        sp.add_argument("-t", flag, action="append", dest=dest, metavar="TAG", help=f"{what} (repeatable)")

    s = sub.add_parser("call", help="any method: call METHOD [PARAMS_JSON]")
    s.add_argument("method")
    s.add_argument("params", nargs="?", help="a JSON object (default: no params)")

    sub.add_parser("hello", help="the daemon's version and limits")

    s = sub.add_parser("deposit", help="leave notes: deposit BODY... (- reads one body from stdin)")
    s.add_argument("bodies", nargs="*", metavar="BODY")
    tags(s)
    s.add_argument("--after", action="append", metavar="ID", help="a note this one was reached from (repeatable)")
    s.add_argument("--after-file", metavar="FILE", help="more after ids, one per line (# comments allowed); "
                                                        "a missing file counts as empty")
    s.add_argument("--lenient-after", action="store_true",
                   help="drop after ids the daemon does not know (with a warning) instead of failing")
    s.add_argument("--each-line", action="store_true", help="deposit each non-blank line of stdin as its own note")
    s.add_argument("--strength", type=float)
    s.add_argument("--force", action="store_true", help="revive a retracted body")
    s.add_argument("--merge-similar", type=float, metavar="X",
                   help="merge into a live note at least this similar in meaning (0 < X <= 1; needs the model)")
    s.add_argument("--id-only", action="store_true", help="print only the ids, one per line")

    s = sub.add_parser("get", help="get ID")
    s.add_argument("id")

    s = sub.add_parser("sense", help="rank notes: sense [QUERY]")
    s.add_argument("query", nargs="?")
    tags(s, what="notes must carry all of these")
    s.add_argument("--any-tag", action="append", dest="any_tags", metavar="TAG",
                   help="notes must carry at least one of these (repeatable)")
    s.add_argument("-l", "--limit", type=int)
    s.add_argument("-b", "--budget", type=int, dest="budget_bytes", help="byte budget for the bodies")
    s.add_argument("--min-weight", type=float)
    s.add_argument("--include-faded", action="store_true")
    s.add_argument("--similar", metavar="TEXT", help="find notes by meaning: what you look for, in your own words")
    s.add_argument("--min-similarity", type=float, metavar="X", help="with --similar: drop notes less similar than X")
    s.add_argument("--format", choices=["json", "markdown", "ids"], default="json",
                   help="json: the result; markdown: a block for a prompt; ids: whole ids, one per line")
    s.add_argument("--id-width", type=int, default=12, help="digits of the ids shown in markdown (default 12)")
    s.add_argument("--ids-out", metavar="FILE", help="also write the whole ids sensed to FILE, one per line")
    s.add_argument("--title", help="heading of the markdown block")

    s = sub.add_parser("reinforce", help="reinforce ID [--delta X]")
    s.add_argument("id")
    s.add_argument("--delta", type=float)

    s = sub.add_parser("repel", help="repel ID [--amount X]")
    s.add_argument("id")
    s.add_argument("--amount", type=float, default=1.0)

    s = sub.add_parser("link", help="link FROM TO [--delta X]")
    s.add_argument("from_", metavar="FROM")
    s.add_argument("to")
    s.add_argument("--delta", type=float)

    s = sub.add_parser("follow", help="follow FROM")
    s.add_argument("from_", metavar="FROM")
    s.add_argument("--direction", choices=["forward", "backward", "both"])
    s.add_argument("-l", "--limit", type=int)
    s.add_argument("--explore", type=float)
    s.add_argument("--seed", type=int)
    s.add_argument("--include-faded", action="store_true")

    s = sub.add_parser("retract", help="retract ID REASON")
    s.add_argument("id")
    s.add_argument("reason")

    s = sub.add_parser("revive", help="revive ID")
    s.add_argument("id")

    sub.add_parser("stats", help="counts and sizes of the namespace")

    s = sub.add_parser("ns", help="ns list | ns configure NS [...]")
    nsub = s.add_subparsers(dest="ns_command", required=True, metavar="list|configure")
    nsub.add_parser("list")
    c = nsub.add_parser("configure")
    c.add_argument("name")
    c.add_argument("--half-life", type=float, dest="half_life_s", metavar="SECONDS")
    c.add_argument("--evaporate-below", type=float)
    c.add_argument("--max-note-bytes", type=int)

    sub.add_parser("compact", help="run the compactor now")

    s = sub.add_parser("watch", help="print events as JSON lines")
    tags(s, what="only notes carrying all of these")
    s.add_argument("--count", type=int, help="stop after this many events")
    return p


def _bodies(args: argparse.Namespace, stdin: TextIO) -> list[str]:
    if args.each_line:
        if args.bodies and args.bodies != ["-"]:
            raise SystemExit("trail: --each-line reads stdin; give no BODY (or -)")
        return [line for line in stdin.read().splitlines() if line.strip()]
    if not args.bodies:
        raise SystemExit("trail: deposit needs a BODY (or - to read it from stdin, or --each-line)")
    out = []
    for body in args.bodies:
        if body == "-":
            text = stdin.read()
            body = text[:-1] if text.endswith("\n") else text
        out.append(body)
    return out


def _deposit(t: Trail, args: argparse.Namespace, stdin: TextIO, out: TextIO, err: TextIO) -> None:
    after = list(args.after or [])
    if args.after_file:
        limit = 32
        if t.server is not None:
            limit = int(t.server.get("limits", {}).get("max_after", 32))
        after += [i for i in _read_ids(args.after_file) if i not in after]
        after = after[:limit]
    for body in _bodies(args, stdin):
        while True:
            try:
                res = t.deposit(body, tags=args.tags, after=after or None, strength=args.strength,
                                force=True if args.force else None, merge_similar=args.merge_similar)
                break
            except UnknownNote as e:
                missing = e.data.get("id")
                if not args.lenient_after or missing not in after:
                    raise
                err.write(f"trail: dropping after id {missing}: {e.message}\n")
                after = [i for i in after if i != missing]
        if args.id_only:
            out.write(res["id"] + "\n")
        else:
            _dump(res, out)


def _sense(t: Trail, args: argparse.Namespace, out: TextIO) -> None:
    res = t.sense(args.query, tags=args.tags, any_tags=args.any_tags, limit=args.limit,
                  budget_bytes=args.budget_bytes, min_weight=args.min_weight,
                  include_faded=True if args.include_faded else None, similar=args.similar,
                  min_similarity=args.min_similarity)
    notes = res["notes"]
    if args.ids_out:
        tmp = args.ids_out + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(f"# trail session: ns={args.ns or 'default'} sensed={time.strftime('%Y-%m-%dT%H:%M:%SZ', time.gmtime())}\n")
            f.writelines(n["id"] + "\n" for n in notes)
        os.replace(tmp, args.ids_out)
    if args.format == "markdown":
        out.write(render_markdown(notes, ns=args.ns or "default", id_width=args.id_width,
                                  budget=args.budget_bytes, query=args.query, title=args.title,
                                  similar=args.similar))
    elif args.format == "ids":
        out.writelines(n["id"] + "\n" for n in notes)
    else:
        _dump(res, out)


def run(argv: Optional[Sequence[str]] = None, stdin: TextIO = sys.stdin, out: TextIO = sys.stdout,
        err: TextIO = sys.stderr) -> int:
    args = _parser().parse_args(argv)
    try:
        with Trail(args.socket, default_ns=args.ns, agent=args.agent, timeout=args.timeout) as t:
            cmd = args.command
            if cmd == "call":
                params = json.loads(args.params) if args.params else None
                if params is not None and not isinstance(params, dict):
                    err.write("trail: PARAMS must be a JSON object\n")
                    return EXIT_USAGE
                _dump(t.call(args.method, params), out)
            elif cmd == "hello":
                _dump(t.server, out)
            elif cmd == "deposit":
                _deposit(t, args, stdin, out, err)
            elif cmd == "get":
                _dump(t.get(args.id), out)
            elif cmd == "sense":
                _sense(t, args, out)
            elif cmd == "reinforce":
                _dump(t.reinforce(args.id, delta=args.delta), out)
            elif cmd == "repel":
                _dump(t.repel(args.id, args.amount), out)
            elif cmd == "link":
                _dump(t.link(args.from_, args.to, delta=args.delta), out)
            elif cmd == "follow":
                _dump(t.follow(args.from_, direction=args.direction, limit=args.limit, explore=args.explore,
                               seed=args.seed, include_faded=True if args.include_faded else None), out)
            elif cmd == "retract":
                _dump(t.retract(args.id, args.reason), out)
            elif cmd == "revive":
                _dump(t.revive(args.id), out)
            elif cmd == "stats":
                _dump(t.stats(), out)
            elif cmd == "ns":
                if args.ns_command == "list":
                    _dump(t.list_namespaces(), out)
                else:
                    _dump(t.configure_namespace(args.name, half_life_s=args.half_life_s,
                                                evaporate_below=args.evaporate_below,
                                                max_note_bytes=args.max_note_bytes), out)
            elif cmd == "compact":
                _dump(t.compact(), out)
            elif cmd == "watch":
                seen = 0
                with t.watch(tags=args.tags) as w:
                    for event in w:
                        _dump(event, out)
                        out.flush()
                        seen += 1
                        if args.count is not None and seen >= args.count:
                            break
        return EXIT_OK
    except DaemonUnavailable as e:
        err.write(f"trail: {e.message}\n")
        return EXIT_UNREACHABLE
    except TimeoutError as e:
        err.write(f"trail: {e}\n")
        return EXIT_UNREACHABLE
    except TrailError as e:
        err.write(f"trail: {e.message}\n")
        if e.data:
            err.write(f"trail: {json.dumps(e.data, ensure_ascii=False)}\n")
        return EXIT_ERROR
    except json.JSONDecodeError as e:
        err.write(f"trail: PARAMS is not JSON: {e}\n")
        return EXIT_USAGE
    except (ValueError, OSError) as e:
        err.write(f"trail: {e}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 130


def main() -> None:
    try:
        code = run()
    except SystemExit as e:
        if isinstance(e.code, str):
            sys.stderr.write(e.code + "\n")
            raise SystemExit(EXIT_USAGE) from None
        raise
    raise SystemExit(code)


if __name__ == "__main__":
    main()
