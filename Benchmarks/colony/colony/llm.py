"""A real model as the agent (optional): an OpenAI-compatible chat-completions
endpoint plays each instance of the choice worlds (flaky builds, routes).

    COLONY_LLM_BASE_URL=https://host/v1 COLONY_LLM_MODEL=name COLONY_LLM_API_KEY=... \\
        PYTHONPATH=Benchmarks/colony python3 -m colony --llm ...

The model gets the ticket and the same six tools whatever the memory:
`memory_read(query)`, `memory_write(text, links)`, `memory_confirm(note)`,
`memory_refute(note, reason, harm)`, `try_option(option)` and `finish()`.
Notes are shown to it as `[n1] text`, in the memory's order, with handles
of the instance's own (never the memory's ids) and no weights, so that it
cannot tell the memories apart: only what they return differs. The world's
dice are the same as for the simulated agents (`world.attempt`), so an LLM
run is comparable with a simulated one on the same seed.

No model runs on the project's machines: the plumbing is tested against a
scripted chat-completions server (Benchmarks/colony/tests/test_llm.py), and
the report has no model figures until someone points this at a model.
"""
from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Optional

from .agents import bytes_of, pace, start_record
from .api import Memory, Note, Record

#: Turns (model calls) one instance may take before it is stopped.
MAX_TURNS = 16

TOOLS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "memory_read", "description": "Read the colony's shared memory: the notes that best answer the question, within your reading budget.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string", "description": "what you want to know, in your own words"}},
                       "required": ["query"]}}},
    {"type": "function", "function": {
        "name": "memory_write", "description": "Leave a short note for the instances after you: one finding, self-contained.",
        "parameters": {"type": "object", "properties": {
            "text": {"type": "string"},
            "links": {"type": "array", "items": {"type": "string"}, "description": "handles ([n1]...) of the notes that led you here or that this note corrects"}},
            "required": ["text"]}}},
    {"type": "function", "function": {
        "name": "memory_confirm", "description": "Say that a note helped you.",
        "parameters": {"type": "object", "properties": {"note": {"type": "string", "description": "its handle, e.g. n1"}}, "required": ["note"]}}},
    {"type": "function", "function": {
        "name": "memory_refute", "description": "Say that a note misled you, and why; with harm, withdraw it.",
        "parameters": {"type": "object", "properties": {
            "note": {"type": "string"}, "reason": {"type": "string"}, "harm": {"type": "boolean"}},
            "required": ["note", "reason"]}}},
    {"type": "function", "function": {
        "name": "try_option", "description": "Try one of the ticket's options. Each try costs time; your tries are limited.",
        "parameters": {"type": "object", "properties": {"option": {"type": "string"}}, "required": ["option"]}}},
    {"type": "function", "function": {
        "name": "finish", "description": "End your work on this ticket.",
        "parameters": {"type": "object", "properties": {}}}},
]


class LLMUnavailable(RuntimeError):
    """The endpoint is not configured or does not answer as chat completions do."""


@dataclass(frozen=True)
class Endpoint:
    base_url: str
    model: str
    api_key: Optional[str]
    timeout: float = 120.0

    @staticmethod
    def from_environment(env: Optional[dict[str, str]] = None) -> "Endpoint":
        env = dict(os.environ if env is None else env)
        missing = [k for k in ("COLONY_LLM_BASE_URL", "COLONY_LLM_MODEL") if not env.get(k)]
        if missing:
            raise LLMUnavailable(f"the LLM mode needs {' and '.join(missing)} (an OpenAI-compatible endpoint, "
                                 "e.g. COLONY_LLM_BASE_URL=http://localhost:8000/v1) and COLONY_LLM_API_KEY if it asks for one")
        return Endpoint(env["COLONY_LLM_BASE_URL"].rstrip("/"), env["COLONY_LLM_MODEL"], env.get("COLONY_LLM_API_KEY"))

    def complete(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        """One chat completion with the tools; returns the assistant's message."""
        body = json.dumps({"model": self.model, "messages": messages, "tools": TOOLS, "temperature": 0}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        req = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                answer = json.load(resp)
        except urllib.error.HTTPError as exc:
            raise LLMUnavailable(f"{self.base_url}/chat/completions answered {exc.code}: {exc.read()[:300]!r}") from exc
        except (urllib.error.URLError, OSError, json.JSONDecodeError) as exc:
            raise LLMUnavailable(f"{self.base_url}/chat/completions: {exc}") from exc
        try:
            return answer["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMUnavailable(f"{self.base_url}/chat/completions answered without choices[0].message: {str(answer)[:300]}") from exc


def prompt(world: Any, ticket: Any, budget_bytes: int) -> str:
    return (f"You are one of many short-lived agent instances working through tickets. Your ticket: "
            f"\"{ticket.query}\". Options you may try: {', '.join(ticket.options)}; you have {ticket.max_tries} tries. "
            f"Instances before you left notes in a shared memory (reading returns at most {budget_bytes} bytes of notes). "
            "Read first, try the option you believe best, then leave a short note of what you found, linked to the "
            "notes that led you there; confirm a note that helped and refute one that misled, with a reason. "
            "Call finish when you are done.")


class Handles:
    """The instance's own names for the notes it was shown: n1, n2..."""

    def __init__(self) -> None:
        self.by_handle: dict[str, Note] = {}
        self.by_id: dict[str, str] = {}

    def name(self, note: Note) -> str:
        if note.id not in self.by_id:
            handle = f"n{len(self.by_handle) + 1}"
            self.by_id[note.id] = handle
            self.by_handle[handle] = note
        return self.by_id[note.id]

    def resolve(self, handle: str) -> Optional[Note]:
        return self.by_handle.get(handle.strip().strip("[]"))


def run_llm_instance(world: Any, memory: Memory, instance: int, endpoint: Endpoint, budget_bytes: int) -> Record:
    """One instance played by the model. The model's mistakes (an unknown
    tool, an option not on the ticket, bad arguments) are answered as tool
    errors it can read, as a real tool host would; an endpoint that fails
    raises `LLMUnavailable`."""
    if world.name == "claims":
        raise LLMUnavailable("the LLM mode plays the choice worlds (flaky, routes), not claims")
    ticket = world.ticket(instance)
    record = start_record(world, instance)
    handles = Handles()
    messages: list[dict[str, Any]] = [{"role": "system", "content": prompt(world, ticket, budget_bytes)}]
    solved: Optional[str] = None
    last: Optional[str] = None
    for _ in range(MAX_TURNS):
        reply = endpoint.complete(messages)
        calls = reply.get("tool_calls") or []
        messages.append({"role": "assistant", "content": reply.get("content"), "tool_calls": calls} if calls
                        else {"role": "assistant", "content": reply.get("content") or ""})
        if not calls:
            break
        done = False
        for call in calls:
            fn = call.get("function") or {}
            try:
                args = json.loads(fn.get("arguments") or "{}")
                if not isinstance(args, dict):
                    raise ValueError("arguments must be a JSON object")
                result, done_now = _tool(fn.get("name"), args, world, ticket, memory, handles, record, budget_bytes)
                if done_now == "solved":
                    solved = args["option"]
                if fn.get("name") == "try_option" and "option" in args:
                    last = args["option"]
                done = done or done_now == "finish"
            except (ValueError, KeyError, TypeError) as exc:
                result = f"error: {exc}"
            messages.append({"role": "tool", "tool_call_id": call.get("id", ""), "content": result})
        if done:
            break
    record.solved = solved is not None
    record.final_option = solved or last
    record.used_best = record.final_option == world.best(ticket)
    record.extra["turns"] = float(sum(1 for m in messages if m["role"] == "assistant"))
    return record


def _tool(name: Any, args: dict[str, Any], world: Any, ticket: Any, memory: Memory, handles: Handles,
          record: Record, budget_bytes: int) -> tuple[str, Optional[str]]:
    if name == "memory_read":
        notes = memory.read(str(args["query"]), budget_bytes)
        record.bytes_read += bytes_of(notes)
        return ("\n".join(f"[{handles.name(n)}] {n.text}" for n in notes) or "(no notes)"), None
    if name == "memory_write":
        links = [n.id for n in (handles.resolve(str(h)) for h in args.get("links") or []) if n is not None]
        memory.write(str(args["text"])[:1000], links=links)
        return "written", None
    if name in ("memory_confirm", "memory_refute"):
        note = handles.resolve(str(args["note"]))
        if note is None:
            raise ValueError(f"no note {args['note']!r} was shown to you; use a handle like n1")
        if name == "memory_confirm":
            memory.confirm(note.id)
            return "confirmed", None
        memory.refute(note.id, str(args["reason"]), harm=bool(args.get("harm", False)))
        return "refuted", None
    if name == "try_option":
        option = str(args["option"])
        if option not in ticket.options:
            raise ValueError(f"{option!r} is not an option of this ticket: {', '.join(ticket.options)}")
        if record.tries >= ticket.max_tries:
            return "no tries left: finish", None
        outcome = world.attempt(ticket, option, record.tries)
        pace(world, outcome.cost)
        record.tries += 1
        record.cost += outcome.cost
        said = f"{option}: {'worked' if outcome.success else 'failed'}, cost {outcome.cost:.1f}"
        return said, ("solved" if outcome.success else None)
    if name == "finish":
        return "finished", "finish"
    raise ValueError(f"unknown tool {name!r}")
