"""A stand-in for Slack on 127.0.0.1: `python -m airflow_platform.devenv.slack_sink PORT`.

It takes what the Slack provider sends (an incoming webhook's `POST /services/...` with a
JSON body, or a Web API `POST /api/chat.postMessage` with JSON or a form), answers as Slack
does (`ok` for a webhook, `{"ok": true}` for the Web API) and prints each message as one
`slack: ...` line on stdout: `dev up` shows those lines on the console, and they stay in
`.dev/logs/slack.log`.
"""

from __future__ import annotations

import json
import sys
import urllib.parse
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

PREFIX = "slack:"


def message_text(body: dict[str, Any]) -> str:
    """The message's text, else the text of its blocks."""
    text = str(body.get("text") or "")
    if not text:
        parts = []
        for block in body.get("blocks") or []:
            inner = block.get("text") if isinstance(block, dict) else None
            if isinstance(inner, dict) and inner.get("text"):
                parts.append(str(inner["text"]))
        text = "\n".join(parts)
    return text or json.dumps(body)


class _Handler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0) or 0))
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {k: v[-1] for k, v in urllib.parse.parse_qs(raw.decode()).items()}
        channel = body.get("channel") if isinstance(body, dict) else None
        text = message_text(body) if isinstance(body, dict) else str(body)
        where = f" #{channel}" if channel else ""
        stamp = datetime.now().strftime("%H:%M:%S")
        print(f"{PREFIX} {stamp}{where} {text}", flush=True)
        is_api = self.path.startswith("/api/")
        answer = json.dumps({"ok": True}).encode() if is_api else b"ok"
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if is_api else "text/plain")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def do_GET(self) -> None:  # a liveness answer
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *_: Any) -> None:
        pass


def main(argv: list[str]) -> int:
    server = ThreadingHTTPServer(("127.0.0.1", int(argv[0])), _Handler)
    print(f"Slack sink listening on http://127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
