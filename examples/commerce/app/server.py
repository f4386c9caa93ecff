"""The Commerce application service: a small HTTP API over its MySQL database.

Settings come from the environment (as ECS passes author.env / live.env): EP_DB_HOSTNAME, EP_DB_PORT,
EP_DB_NAME, EP_DB_USER, EP_DB_PASSWORD; it listens on APP_HOST:APP_PORT. ``/authorities`` lists the files of
the authorities folder (AUTHORITIES_DIR, /authorities: the lookup service's EFS access point) when it has one.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BUILD_INFO = json.loads((Path(__file__).parent / "BUILD-INFO.json").read_text())
AUTHORITIES = Path(os.environ.get("AUTHORITIES_DIR", "/authorities"))


def authorities() -> list[dict[str, object]]:
    """The authorities folder's files (path relative to it, size), sorted."""
    files = sorted(p for p in AUTHORITIES.rglob("*") if p.is_file())
    return [{"path": p.relative_to(AUTHORITIES).as_posix(), "size": p.stat().st_size} for p in files]


def products() -> list[dict[str, object]]:
    import pymysql

    connection = pymysql.connect(
        host=os.environ["EP_DB_HOSTNAME"],
        port=int(os.environ.get("EP_DB_PORT", "3306")),
        user=os.environ.get("EP_DB_USER", "cloudops"),
        password=os.environ.get("EP_DB_PASSWORD", ""),
        database=os.environ.get("EP_DB_NAME", "commerce"),
        connect_timeout=5,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT sku, name, price_cents FROM product ORDER BY sku")
            return [{"sku": s, "name": n, "price_cents": p} for s, n, p in cursor.fetchall()]
    finally:
        connection.close()


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server protocol
        if self.path == "/health":
            self.reply(200, {"status": "ok", **BUILD_INFO})
        elif self.path == "/products":
            try:
                self.reply(200, {"products": products()})
            except Exception as error:  # the database is down or misconfigured: say so, do not crash
                self.reply(503, {"error": str(error)})
        elif self.path == "/authorities" and AUTHORITIES.is_dir():
            self.reply(200, {"authorities": authorities()})
        else:
            self.reply(404, {"error": f"no route {self.path}"})

    def reply(self, status: int, body: dict[str, object]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def main() -> None:
    address = (os.environ.get("APP_HOST", "0.0.0.0"), int(os.environ.get("APP_PORT", "8080")))
    server = ThreadingHTTPServer(address, Handler)
    # ECS stops a task with SIGTERM (then SIGKILL after its stopTimeout): stop at once, cleanly
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"commerce {BUILD_INFO['version']} listening on {address[0]}:{address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
