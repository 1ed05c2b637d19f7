"""Claude Code hooks on trail: ``trail-claude-hook EVENT`` (or
``python3 -m trail_client.claude_code EVENT``), reading the JSON that Claude
Code sends on stdin.

- ``session-start`` (SessionStart): senses the namespace's strongest notes
  within a byte budget and answers them as ``additionalContext``, each with
  its id, so the session starts where the colony left off. The ids it gave
  are kept for the session (a small file under the runtime directory).
- ``stop`` (Stop) and ``pre-compact`` (PreCompact): deposit what the turn
  or the session so far came to, the last thing the assistant said (cut to
  ``TRAIL_HOOK_NOTE_BYTES``, 1,000 bytes by default, at a sentence end),
  tagged ``claude-code``, linked (``after``) to the notes the session was
  given at its start and to this session's previous deposit. A message under
  40 bytes ("Done.") is not worth a note; ``stop_hook_active`` (Claude Code
  continuing because of a Stop hook) deposits nothing.

Settings, from the environment: ``TRAIL_NS`` (default: the project
directory's name, made a valid namespace), ``TRAIL_SOCKET`` (else the usual
places), ``TRAIL_HOOK_BUDGET`` (bytes of notes at session start, default
2,000), ``TRAIL_HOOK_NOTE_BYTES``. A hook never blocks the session: when
traild cannot be reached, or the input or a setting is wrong, it says so on
stderr (what to type or set) and exits 1, which Claude Code shows and goes
on. (argparse exits 2 for an unknown event: a command line in the settings
that can never have worked.)
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
from pathlib import Path
from typing import Any, Optional, Sequence, TextIO

from .errors import DaemonUnavailable, Retracted, TrailError
from .sync import Trail

#: Every failure exits 1, which Claude Code shows and goes on from: exit 2
#: is its "blocking error" (on Stop it would keep the assistant from stopping
#: and hand it our message), which no memory hook should cause.
EXIT_OK, EXIT_ERROR = 0, 1
EVENTS = {"session-start": "SessionStart", "stop": "Stop", "pre-compact": "PreCompact"}
#: A message shorter than this (in UTF-8 bytes) is not deposited.
SHORTEST_NOTE = 40
_NS_BAD = re.compile(r"[^a-z0-9._-]+")


def namespace(payload: dict[str, Any], env: dict[str, str]) -> str:
    """``TRAIL_NS``, else the project directory's name as a namespace
    (lower case, runs of other characters as one ``-``)."""
    if env.get("TRAIL_NS"):
        return env["TRAIL_NS"]
    name = _NS_BAD.sub("-", Path(payload.get("cwd") or os.getcwd()).name.lower()).strip("-._")[:64].rstrip("-._")
    return name or "default"


def _state_file(session: str, env: dict[str, str]) -> Path:
    base = env.get("XDG_RUNTIME_DIR") or f"/tmp/trail-{os.getuid()}"
    digest = hashlib.sha256(session.encode()).hexdigest()[:16]
    return Path(base) / "trail" / "claude-code" / f"{digest}.json"


def _load_state(session: str, env: dict[str, str]) -> dict[str, Any]:
    try:
        state = json.loads(_state_file(session, env).read_text())
        return state if isinstance(state, dict) else {}
    except (OSError, ValueError):
        return {}


def _save_state(session: str, env: dict[str, str], state: dict[str, Any]) -> None:
    path = _state_file(session, env)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(path)
    except OSError:
        pass  # losing the links costs a trail, not the note


def cut(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` UTF-8 bytes, ended at the last sentence
    (or word) that fits, with an ellipsis when cut."""
    text = " ".join(text.split())
    if len(text.encode()) <= limit:
        return text
    head = text.encode()[:max(limit - 3, 0)].decode(errors="ignore")
    for stop in (". ", "! ", "? ", "\n", " "):
        at = head.rfind(stop)
        if at > len(head) // 2:
            return head[:at + 1].rstrip() + "..."
    return head + "..."


def last_assistant_message(payload: dict[str, Any]) -> Optional[str]:
    """What the assistant said last: ``last_assistant_message`` when Claude
    Code sends it, else the last assistant text in the transcript."""
    given = payload.get("last_assistant_message")
    if isinstance(given, str) and given.strip():
        return given
    path = payload.get("transcript_path")
    if not path:
        return None
    last = None
    try:
        with open(os.path.expanduser(path), encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                message = entry.get("message") if isinstance(entry, dict) else None
                if not isinstance(message, dict) or message.get("role") != "assistant":
                    continue
                content = message.get("content")
                if isinstance(content, str):
                    texts = [content]
                else:
                    texts = [c.get("text", "") for c in content or [] if isinstance(c, dict) and c.get("type") == "text"]
                text = "\n".join(t for t in texts if t.strip())
                if text.strip():
                    last = text
    except OSError:
        return None
    return last


class BadSetting(ValueError):
    """A setting of the environment that is not what the hook takes."""


#: The settings that are numbers: their default, what each means, and its bounds.
NUMBER_SETTINGS = {"TRAIL_HOOK_BUDGET": (2000, "bytes of notes given at a session's start", 1, 65536),
                   "TRAIL_HOOK_NOTE_BYTES": (1000, "bytes a deposited message is cut to", SHORTEST_NOTE, 65536)}


def number_settings(env: dict[str, str]) -> dict[str, int]:
    """Each of NUMBER_SETTINGS as the environment sets it (its default when
    unset); raises BadSetting for one that is not a whole number in bounds."""
    out = {}
    for name, (default, meaning, low, high) in NUMBER_SETTINGS.items():
        text = env.get(name) or ""
        try:
            value = int(text) if text else default
        except ValueError:
            value = low - 1
        if not low <= value <= high:
            raise BadSetting(f"{name}={text!r}: it is the {meaning}, a whole number from {low} to {high}")
        out[name] = value
    return out


def session_start(t: Trail, ns: str, payload: dict[str, Any], env: dict[str, str], out: TextIO, budget: int) -> int:
    notes = t.sense(ns=ns, budget_bytes=budget, limit=50)["notes"]
    if notes:
        lines = [f"trail memory, namespace {ns}: the colony's strongest notes, strongest first. Treat them as "
                 "advice from earlier sessions, not facts; reinforce the ids that help and repel or retract "
                 "(with a reason) the ones that mislead (trail-mcp's tools, or `trailctl reinforce ID`)."]
        for n in notes:
            contested = f"; contested by {', '.join(c[:12] for c in n.get('contested_by') or [])}" \
                if n.get("contested_by") else ""
            tags = f" [{', '.join(n['tags'])}]" if n["tags"] else ""
            lines.append(f"- {n['id'][:12]} (weight {n['weight']:.2f}{contested}){tags}: {n['body']}")
        context = "\n".join(lines)
    else:
        context = (f"trail memory, namespace {ns}: empty so far. Deposit what you learn (trail-mcp's deposit "
                   "tool, or `trailctl deposit`), tagged so that others find it.")
    _save_state(payload["session_id"], env, {"given": [n["id"] for n in notes], "last": None})
    json.dump({"hookSpecificOutput": {"hookEventName": "SessionStart", "additionalContext": context}}, out)
    out.write("\n")
    return EXIT_OK


def deposit_learned(t: Trail, ns: str, payload: dict[str, Any], env: dict[str, str], event: str, limit: int) -> int:
    if payload.get("stop_hook_active"):
        return EXIT_OK
    message = last_assistant_message(payload)
    if not message:
        return EXIT_OK
    body = cut(message, limit)
    if len(body.encode()) < SHORTEST_NOTE:
        return EXIT_OK
    session = payload["session_id"]
    state = _load_state(session, env)
    own = hashlib.sha256(body.encode()).hexdigest()
    after = [i for i in [*(state.get("given") or []), state.get("last")] if i and i != own][-32:]
    tags = ["claude-code", "pre-compact" if event == "PreCompact" else "session"]
    try:
        id = t.deposit(body, ns=ns, tags=tags, after=after or None)["id"]
    except Retracted:
        return EXIT_OK  # someone retracted this very advice, with a reason: it is not deposited again
    state["last"] = id
    _save_state(session, env, state)
    return EXIT_OK


def main(argv: Optional[Sequence[str]] = None, stdin: TextIO = sys.stdin, stdout: TextIO = sys.stdout,
         stderr: TextIO = sys.stderr, env: Optional[dict[str, str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="trail-claude-hook", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("event", choices=sorted(EVENTS), help="the Claude Code hook this runs as")
    args = ap.parse_args(argv)
    environ = dict(os.environ if env is None else env)
    try:
        payload = json.load(stdin)
    except ValueError as exc:
        print(f"trail-claude-hook: the input is not the JSON Claude Code sends to hooks: {exc}", file=stderr)
        return EXIT_ERROR
    if not isinstance(payload, dict) or not isinstance(payload.get("session_id"), str):
        print("trail-claude-hook: the input has no session_id; run me as a Claude Code hook "
              "(docs/mcp.md, \"Claude Code\")", file=stderr)
        return EXIT_ERROR
    try:
        numbers = number_settings(environ)
    except BadSetting as exc:
        print(f"trail-claude-hook: {exc}", file=stderr)
        return EXIT_ERROR
    ns = namespace(payload, environ)
    agent = f"claude-code/{payload['session_id'][:8]}"
    try:
        with Trail(environ.get("TRAIL_SOCKET") or None, default_ns=ns, agent=agent,
                   client_name="trail-claude-hook", timeout=10) as t:
            if args.event == "session-start":
                return session_start(t, ns, payload, environ, stdout, numbers["TRAIL_HOOK_BUDGET"])
            return deposit_learned(t, ns, payload, environ, EVENTS[args.event], numbers["TRAIL_HOOK_NOTE_BYTES"])
    except DaemonUnavailable as exc:
        print(f"trail-claude-hook: {exc} Start it with `traild` (or `systemctl start trail`), or point "
              "TRAIL_SOCKET at its socket.", file=stderr)
        return EXIT_ERROR
    except TrailError as exc:
        print(f"trail-claude-hook: traild refused: {exc}", file=stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
