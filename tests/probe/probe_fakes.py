"""Small local HTTP servers that speak (or deliberately break) the OpenAI and Ollama streaming formats.

One threaded server serves many behaviours, chosen by the first path
segment: `http://127.0.0.1:PORT/<mode>/v1/...` (OpenAI) or
`http://127.0.0.1:PORT/<mode>/api/...` (Ollama). It listens on loopback only.

`serial` is a server with a fixed service time: one request at a time (as llama-cpp-python), each
taking `serial_prefill_s` before its first token and `serial_token_s` per token, all sleeps, so a
test's verdict on queueing and saturation does not depend on how fast this machine is. The
misbehaving modes (`endless`, `overrun`, `keepalive`, `emptyforever`, `nonewline`, `longline`,
`retry429`, `retry503`, `retrydate`) are what tests/probe/test_misbehaving.py bounds; an endless one
stops when the client hangs up, or after `ENDLESS_CAP_S` should a test fail to.

No Ollama binary can be installed here, so the Ollama mode follows Ollama's
documented streaming format (docs/api.md): JSON lines with `done: false`,
then a final `done: true` line carrying prompt_eval_count,
prompt_eval_duration, eval_count and eval_duration (nanoseconds).
"""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]
OLLAMA_PROMPT_EVAL_NS = 25_000_000  # 25 ms
OLLAMA_EVAL_NS_PER_TOKEN = 10_000_000  # 10 ms → 100 tokens/s server-side
OLLAMA_TOKEN_GAP_S = 0.002
#: Longest an endless mode streams when the client never hangs up (a failing test must end).
ENDLESS_CAP_S = 120.0


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive and chunked streaming like real servers
    server: FakeLLMServer

    def log_message(self, *args: Any) -> None:  # keep test output quiet
        pass

    def setup(self) -> None:
        super().setup()
        # As uvicorn, llama.cpp and Ollama do: without it, Nagle's algorithm holds each small token
        # write until the client's delayed ACK, and tokens arrive in bursts 40 ms apart.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    # -- helpers -----------------------------------------------------------------
    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def _json(self, status: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _start_stream(self, content_type: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        self.wfile.flush()

    def _end_stream(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _cut(self) -> None:
        """Drop the connection abruptly, mid-stream."""
        self.wfile.flush()
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _sse(self, obj: Any) -> None:
        self._chunk(b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n")

    # -- routing -----------------------------------------------------------------
    def _route(self) -> tuple[str, str]:
        parts = self.path.split("?", 1)[0].split("/", 2)
        mode = parts[1] if len(parts) > 1 else ""
        rest = "/" + parts[2] if len(parts) > 2 else "/"
        return mode, rest

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        mode, rest = self._route()
        self.server.record(self, mode, rest, None)
        if self._status_mode(mode):
            return
        if rest == "/v1/models":
            self._json(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
        elif rest == "/api/tags":
            self._json(200, {"models": [{"name": "fake-ollama:latest", "model": "fake-ollama:latest"}]})
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:  # noqa: N802
        mode, rest = self._route()
        body = self._body()
        self.server.record(self, mode, rest, body)
        if self._status_mode(mode):
            return
        if rest == "/tokenize" and mode != "notokenize":
            text = body.get("content") or body.get("prompt") or ""
            self._json(200, {"tokens": list(range(len(text.split())))})
        elif rest in ("/v1/chat/completions", "/v1/completions"):
            self._openai(mode, rest, body)
        elif rest in ("/api/chat", "/api/generate"):
            self._ollama(mode, rest, body)
        else:
            self._json(404, {"error": "not found"})

    def _status_mode(self, mode: str) -> bool:
        """Modes that answer with an HTTP error status before streaming anything."""
        if mode in ("401", "403", "404", "429", "500", "503", "400"):
            status = int(mode)
            self._json(status, {"error": {"message": f"fake {status}", "code": status}})
            return True
        if mode == "401echo":
            # A careless server that echoes the credentials back in its error body.
            self._json(401, {"error": {"message": f"bad key: {self.headers.get('Authorization')}"}})
            return True
        if mode == "hang":
            time.sleep(self.server.hang_s)
            self._json(200, {})
            return True
        if mode in ("retry429", "retry503", "retrydate"):
            status = 503 if mode == "retry503" else 429
            data = json.dumps({"error": {"message": "slow down", "code": status}}).encode()
            self.send_response(status)
            if mode == "retrydate":  # an HTTP date (RFC 9110): now + retry_after_s, whole seconds
                from email.utils import formatdate

                self.send_header("Retry-After", formatdate(time.time() + self.server.retry_after_s + 1, usegmt=True))
            else:
                self.send_header("Retry-After", str(int(self.server.retry_after_s)))
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return True
        if mode == "flaky":
            with self.server.lock:
                self.server.flaky_count += 1
                fail = self.server.flaky_count % 2 == 0
            if fail:
                self._json(500, {"error": {"message": "flaky"}})
                return True
        return False

    # -- OpenAI ------------------------------------------------------------------
    def _openai(self, mode: str, rest: str, body: dict[str, Any]) -> None:
        n_tokens = int(body.get("max_tokens") or 8)
        chat = rest.endswith("/chat/completions")
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        if mode == "rejectstreamoptions" and "stream_options" in body:
            self._json(400, {"error": {"message": "unknown field stream_options"}})
            return
        if mode == "html":
            data = b"<html><body>proxy login</body></html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
            return
        if mode in ("endless", "keepalive", "emptyforever", "nonewline", "longline"):
            self._misbehave(mode, chat)
            return
        if mode == "serial":
            self._serial(n_tokens, chat)
            return
        self._start_stream("text/event-stream")
        if mode == "overrun":  # ignores max_tokens: three times as many, then a clean end
            n_tokens *= 3
        delay_s = self.server.slow_token_s if mode == "slow" else 0.0
        if chat:
            self._sse({"choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}]})
        for i in range(n_tokens):
            if delay_s:
                time.sleep(delay_s)
            if mode == "cut" and i == 2:
                self._cut()
                return
            if mode == "garbage" and i == 2:
                self._sse(b"{this is not json")
                self._end_stream()
                return
            if mode == "errorevent" and i == 2:
                self._sse({"error": {"message": "out of memory", "code": 500}})
                self._end_stream()
                return
            if mode == "hangstream" and i == 1:
                time.sleep(self.server.hang_s)
            word = WORDS[i % len(WORDS)] + " "
            if chat:
                choice = {"index": 0, "delta": {"content": word}, "finish_reason": None}
            else:
                choice = {"index": 0, "text": word, "finish_reason": None}
            self._sse({"object": "chunk", "choices": [choice]})
        if mode == "nodone":
            self._end_stream()  # a clean end, but no finish_reason and no [DONE]
            return
        final = {"index": 0, "finish_reason": "length"}
        final.update({"delta": {}} if chat else {"text": ""})
        self._sse({"choices": [final]})
        if include_usage and mode != "nousage":
            self._sse({"choices": [], "usage": {"prompt_tokens": 42, "completion_tokens": n_tokens,
                                                "total_tokens": 42 + n_tokens}})
        self._sse(b"[DONE]")
        self._end_stream()

    def _token(self, i: int, chat: bool) -> None:
        word = WORDS[i % len(WORDS)] + " "
        choice = ({"index": 0, "delta": {"content": word}, "finish_reason": None} if chat
                  else {"index": 0, "text": word, "finish_reason": None})
        self._sse({"object": "chunk", "choices": [choice]})

    def _misbehave(self, mode: str, chat: bool) -> None:
        """Streams that never end on their own (or break the line format), until the client hangs up."""
        self._start_stream("text/event-stream")
        if mode == "longline":  # one event of 2 MiB, then a proper end
            self._chunk(b"data: " + b"x" * (2 * 1024 * 1024) + b"\n\n")
            self._sse(b"[DONE]")
            self._end_stream()
            return
        end_s = time.monotonic() + ENDLESS_CAP_S
        i = 0
        try:
            while time.monotonic() < end_s:
                if mode == "endless":  # tokens forever, whatever max_tokens said
                    self._token(i, chat)
                    time.sleep(0.001)
                elif mode == "keepalive":  # SSE comments only, as some proxies send while waiting
                    self._chunk(b": keep-alive\n\n")
                    time.sleep(0.02)
                elif mode == "emptyforever":  # well-formed chunks that carry no text, forever
                    self._sse({"object": "chunk", "choices": [{"index": 0, "delta": {}, "finish_reason": None}]})
                    time.sleep(0.01)
                else:  # nonewline: bytes as fast as the socket takes them, never a newline
                    self._chunk(b"data: " + b"y" * 65536)
                i += 1
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up: what the test wants
        self.close_connection = True

    def _serial(self, n_tokens: int, chat: bool) -> None:
        """One request at a time, each a fixed service time (see the module's docstring)."""
        server = self.server
        self._start_stream("text/event-stream")
        with server.serial_lock:
            time.sleep(server.serial_prefill_s)
            for i in range(n_tokens):
                if i:
                    time.sleep(server.serial_token_s)
                self._token(i, chat)
            final = {"index": 0, "finish_reason": "length"}
            final.update({"delta": {}} if chat else {"text": ""})
            self._sse({"choices": [final]})
            self._sse(b"[DONE]")
            self._end_stream()

    # -- Ollama ------------------------------------------------------------------
    def _ollama(self, mode: str, rest: str, body: dict[str, Any]) -> None:
        if body.get("model") not in ("fake-ollama:latest", "fake-ollama"):
            self._json(404, {"error": f"model \"{body.get('model')}\" not found, try pulling it first"})
            return
        if mode == "slots":
            self._ollama_slots(rest, body)
            return
        n_tokens = int((body.get("options") or {}).get("num_predict") or 8)
        chat = rest == "/api/chat"
        self._start_stream("application/x-ndjson")

        def line(obj: dict[str, Any]) -> None:
            self._chunk(json.dumps(obj).encode() + b"\n")

        for i in range(n_tokens):
            if i:
                # Tokens a few ms apart, as a real server decodes them: lines written in the same
                # instant reach the client in one read, with no time between them to measure.
                time.sleep(OLLAMA_TOKEN_GAP_S)
            if mode == "cut" and i == 2:
                self._cut()
                return
            if mode == "garbage" and i == 2:
                self._chunk(b"{nope\n")
                self._end_stream()
                return
            word = WORDS[i % len(WORDS)] + " "
            base = {"model": body["model"], "created_at": "2026-11-25T00:00:00Z", "done": False}
            if chat:
                base["message"] = {"role": "assistant", "content": word}
            else:
                base["response"] = word
            line(base)
        final = {"model": body["model"], "created_at": "2026-11-25T00:00:01Z", "done": True,
                 "done_reason": "length", "total_duration": 1_000_000_000, "load_duration": 1_000_000,
                 "prompt_eval_count": 37, "prompt_eval_duration": OLLAMA_PROMPT_EVAL_NS,
                 "eval_count": n_tokens, "eval_duration": n_tokens * OLLAMA_EVAL_NS_PER_TOKEN}
        if chat:
            final["message"] = {"role": "assistant", "content": ""}
        else:
            final["response"] = ""
        line(final)
        self._end_stream()


    def _ollama_slots(self, rest: str, body: dict[str, Any]) -> None:
        """Ollama's scheduling as documented (docs/faq.md, "How does Ollama handle concurrent
        requests?"): OLLAMA_NUM_PARALLEL requests run at once, up to OLLAMA_MAX_QUEUE wait, and one
        more is refused with 503 and Ollama's message (server/sched.go ErrMaxQueue). The final
        line's total_duration includes the wait, as Ollama's handler times from its start."""
        server = self.server
        begin = time.monotonic_ns()
        with server.lock:
            if server.slots_waiting >= server.ollama_max_queue and server.slots_free.locked():
                full = True
            else:
                full = False
                server.slots_waiting += 1
        if full:
            self._json(503, {"error": "server busy, please try again.  maximum pending requests exceeded"})
            return
        with server.slots_free_sem:
            with server.lock:
                server.slots_waiting -= 1
            n_tokens = int((body.get("options") or {}).get("num_predict") or 8)
            self._start_stream("application/x-ndjson")
            prompt_ns, eval_ns = 5_000_000, 0
            time.sleep(prompt_ns / 1e9)
            for i in range(n_tokens):
                t0 = time.monotonic_ns()
                time.sleep(server.slot_token_s)
                eval_ns += time.monotonic_ns() - t0
                part = {"model": body["model"], "done": False}
                part.update({"message": {"role": "assistant", "content": WORDS[i % len(WORDS)] + " "}}
                            if rest == "/api/chat" else {"response": WORDS[i % len(WORDS)] + " "})
                self._chunk(json.dumps(part).encode() + b"\n")
            final = {"model": body["model"], "done": True, "done_reason": "length", "load_duration": 1_000_000,
                     "prompt_eval_count": 37, "prompt_eval_duration": prompt_ns, "eval_count": n_tokens,
                     "eval_duration": eval_ns, "total_duration": time.monotonic_ns() - begin + 1_000_000}
            final.update({"message": {"role": "assistant", "content": ""}} if rest == "/api/chat" else {"response": ""})
            self._chunk(json.dumps(final).encode() + b"\n")
            self._end_stream()


class FakeLLMServer(ThreadingHTTPServer):
    """The fake server; `requests_seen` records (mode, path, headers, body) of each request."""

    daemon_threads = True  # a handler still sleeping must not block shutdown
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.requests_seen: list[tuple[str, str, dict[str, str], Any]] = []
        self.request_times_s: list[tuple[str, float]] = []  # (mode, monotonic s) of each request
        self.flaky_count = 0
        self.hang_s = 2.0
        self.slow_token_s = 0.05
        self.retry_after_s = 1.0
        # "serial" mode: one request at a time, each this long (sleeps, not work: see the docstring).
        self.serial_lock = threading.Lock()
        self.serial_prefill_s = 0.02
        self.serial_token_s = 0.005
        # "slots" mode: Ollama's OLLAMA_NUM_PARALLEL and OLLAMA_MAX_QUEUE (set_slots changes them).
        self.set_slots(num_parallel=2, max_queue=2, token_s=0.02)
        self._thread: threading.Thread | None = None

    def set_slots(self, *, num_parallel: int, max_queue: int, token_s: float) -> None:
        self.ollama_num_parallel, self.ollama_max_queue, self.slot_token_s = num_parallel, max_queue, token_s
        self.slots_free_sem = threading.BoundedSemaphore(num_parallel)
        self.slots_free = _SlotsView(self.slots_free_sem)
        self.slots_waiting = 0

    @property
    def port(self) -> int:
        return self.server_address[1]

    def url(self, mode: str, api: str = "v1") -> str:
        return f"http://127.0.0.1:{self.port}/{mode}/{api}"

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that hang up on purpose (timeouts, cuts) are expected here.
        import sys

        if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            super().handle_error(request, client_address)

    def record(self, handler: _Handler, mode: str, rest: str, body: Any) -> None:
        with self.lock:
            self.requests_seen.append((mode, rest, dict(handler.headers.items()), body))
            self.request_times_s.append((mode, time.monotonic()))

    def start(self) -> FakeLLMServer:
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-llm-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _SlotsView:
    """`locked()`: every slot is taken (a BoundedSemaphore has no such test of its own)."""

    def __init__(self, sem: threading.BoundedSemaphore):
        self.sem = sem

    def locked(self) -> bool:
        if self.sem.acquire(blocking=False):
            self.sem.release()
            return False
        return True


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class FullBacklogPort:
    """A loopback port whose listen backlog is full and never drained, so new
    connections get no answer and time out: a real `unreachable` without
    touching any address outside this machine."""

    def __init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.port = self.listener.getsockname()[1]
        self.fillers = []
        for _ in range(4):
            c = socket.socket()
            c.setblocking(False)
            try:
                c.connect(("127.0.0.1", self.port))
            except BlockingIOError:
                pass
            self.fillers.append(c)
        time.sleep(0.05)

    def close(self) -> None:
        for c in self.fillers:
            c.close()
        self.listener.close()
