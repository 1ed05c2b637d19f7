"""The LLM mode's plumbing, against a scripted chat-completions server (no
model runs here): the requests carry the model, the key and the same tools
whatever the memory; tool calls reach the memory and the world; their
results go back as tool messages; the model's mistakes come back as tool
errors; a broken endpoint is a clear error."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Callable

import pytest

import colony_path  # noqa: F401  (Benchmarks/colony on sys.path)
from colony.baselines import AppendLog
from colony.llm import TOOLS, Endpoint, LLMUnavailable, run_llm_instance
from colony.worlds import make_world


class Scripted:
    """A chat-completions server that answers with `script(request)` and keeps every request."""

    def __init__(self, script: Callable[[dict[str, Any]], Any], status: int = 200) -> None:
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append(body)
                outer.headers.append(dict(self.headers))
                answer = script(body)
                data = (answer if isinstance(answer, bytes) else json.dumps(answer).encode())
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def call(name: str, args: Any, n: int) -> dict[str, Any]:
    return {"id": f"call-{n}", "type": "function",
            "function": {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}}


def reply(*calls: dict[str, Any]) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": list(calls)}}]}


def agent_script(body: dict[str, Any]) -> dict[str, Any]:
    """Reads, tries the option the first note names (else the first option),
    writes what worked linked to the note, confirms it, finishes."""
    messages = body["messages"]
    turn = sum(1 for m in messages if m["role"] == "assistant")
    system = messages[0]["content"]
    options = system.split("Options you may try: ")[1].split(";")[0].split(", ")
    if turn == 0:
        return reply(call("memory_read", {"query": "what fixed this before?"}, 1))
    if turn == 1:
        shown = messages[-1]["content"]
        named = [o for o in options if o in shown]
        return reply(call("try_option", {"option": (named or options)[0]}, 2))
    if turn == 2:
        tried = json.loads(messages[-2]["tool_calls"][0]["function"]["arguments"])["option"]
        shown = next(m["content"] for m in messages if m["role"] == "tool" and m["tool_call_id"] == "call-1")
        handle = shown.split("]")[0].lstrip("[") if shown.startswith("[") else None
        calls = [call("memory_write", {"text": f"{tried} is what I tried: {messages[-1]['content']}",
                                       "links": [handle] if handle else []}, 3)]
        if handle:
            calls.append(call("memory_confirm", {"note": handle}, 4))
        return reply(*calls)
    return reply(call("finish", {}, 9))


@pytest.fixture
def server():
    made: list[Scripted] = []

    def make(script: Callable[[dict[str, Any]], Any], status: int = 200) -> Scripted:
        made.append(Scripted(script, status))
        return made[-1]
    yield make
    for s in made:
        s.close()


def test_the_model_plays_instances_through_the_same_tools(server) -> None:
    s = server(agent_script)
    endpoint = Endpoint.from_environment({"COLONY_LLM_BASE_URL": s.url + "/", "COLONY_LLM_MODEL": "scripted-1",
                                          "COLONY_LLM_API_KEY": "sk-test"})
    world = make_world("flaky", "static", 7, tick=0, instances=6)
    log = AppendLog("newest")
    records = [run_llm_instance(world, log, i, endpoint, 1200) for i in range(4)]
    assert all(r.tries >= 1 for r in records)
    assert len(log) >= 4  # every instance wrote its finding
    first = s.requests[0]
    assert first["model"] == "scripted-1" and first["tools"] == TOOLS
    assert {t["function"]["name"] for t in first["tools"]} == {
        "memory_read", "memory_write", "memory_confirm", "memory_refute", "try_option", "finish"}
    assert s.headers[0]["Authorization"] == "Bearer sk-test"
    # tool results go back as tool messages answering their calls
    later = s.requests[2]["messages"]
    assert later[-1]["role"] == "tool" and later[-1]["tool_call_id"] == "call-2"
    assert "worked" in later[-1]["content"] or "failed" in later[-1]["content"]
    # the later instances were shown the earlier ones' notes, by handle, without weights or ids
    shown = [m["content"] for r in s.requests for m in r["messages"] if m.get("tool_call_id") == "call-1"]
    assert any(c.startswith("[n1] ") for c in shown) and not any("weight" in c for c in shown)
    assert all(r.extra["turns"] >= 3 for r in records)


def test_the_models_mistakes_come_back_as_tool_errors(server) -> None:
    def script(body: dict[str, Any]) -> dict[str, Any]:
        turn = sum(1 for m in body["messages"] if m["role"] == "assistant")
        return [reply(call("try_option", {"option": "fix-99"}, 1), call("jump", {}, 2),
                      call("memory_confirm", {"note": "n7"}, 3), call("try_option", "{not json", 4)),
                reply(call("finish", {}, 5))][min(turn, 1)]
    s = server(script)
    world = make_world("flaky", "static", 7, tick=0, instances=4)
    record = run_llm_instance(world, AppendLog("newest"), 0, Endpoint(s.url, "m", None), 1200)
    errors = [m["content"] for m in s.requests[1]["messages"] if m["role"] == "tool"]
    assert len(errors) == 4 and all(e.startswith("error: ") for e in errors), errors
    assert "not an option of this ticket" in errors[0] and "unknown tool 'jump'" in errors[1]
    assert "no note 'n7' was shown to you" in errors[2]
    assert record.tries == 0 and not record.solved and "Authorization" not in s.headers[0]


def test_a_broken_endpoint_is_a_clear_error(server) -> None:
    world = make_world("flaky", "static", 7, tick=0, instances=4)
    failing = server(lambda body: {"error": "overloaded"}, status=503)
    with pytest.raises(LLMUnavailable, match="answered 503"):
        run_llm_instance(world, AppendLog("newest"), 0, Endpoint(failing.url, "m", None), 1200)
    odd = server(lambda body: {"id": "x"})
    with pytest.raises(LLMUnavailable, match="without choices"):
        run_llm_instance(world, AppendLog("newest"), 0, Endpoint(odd.url, "m", None), 1200)
    with pytest.raises(LLMUnavailable, match="needs COLONY_LLM_BASE_URL and COLONY_LLM_MODEL"):
        Endpoint.from_environment({})
    with pytest.raises(LLMUnavailable, match="not claims"):
        run_llm_instance(make_world("claims", "static", 7, tick=0), AppendLog("newest"), 0,
                         Endpoint(odd.url, "m", None), 1200)
