"""A real OpenAI-compatible HTTP server that answers each prompt from a table (the right answer, or a wrong one)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class OracleServer:
    def __init__(self, replies: dict[str, str], *, model: str = "oracle", fail_prompts: set[str] = frozenset()):
        owner = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, doc: dict) -> None:
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):  # noqa: N802
                self._send(200, {"object": "list", "data": [{"id": model, "object": "model"}]})

            def do_POST(self):  # noqa: N802
                doc = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                owner.requests += 1
                prompt = doc["messages"][-1]["content"]
                if prompt in fail_prompts:
                    self._send(500, {"error": {"message": "boom"}})
                    return
                self._send(200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": replies.get(prompt, "")},
                                              "finish_reason": "stop"}]})

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
