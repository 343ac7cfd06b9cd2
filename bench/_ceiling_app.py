"""The ceiling: the fastest a Python ASGI app on this stack serves one indexed SQLite read or one
SQLite write transaction. Starlette + uvicorn (httptools and uvloop when installed), one process,
the reference server's SQLite settings (WAL, synchronous=NORMAL, one connection). Used by
bench_ceiling.py, which starts it with `CEILING_DB` naming a database it populated."""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import time
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

_conn = sqlite3.connect(os.environ.get("CEILING_DB", ":memory:"), check_same_thread=False, isolation_level=None)
_conn.execute("PRAGMA journal_mode=WAL")
_conn.execute("PRAGMA synchronous=NORMAL")
_conn.execute("CREATE TABLE IF NOT EXISTS items (id TEXT PRIMARY KEY, amount INTEGER NOT NULL, body TEXT NOT NULL)")


def _json(obj: object) -> Response:
    return Response(json.dumps(obj).encode(), 200, media_type="application/json")


async def read(request: Request) -> Response:
    row = _conn.execute("SELECT id, amount, body FROM items WHERE id = ?", (request.path_params["id"],)).fetchone()
    if row is None:
        return Response(b'{"error": "missing"}', 404, media_type="application/json")
    return _json({"id": row[0], "amount": row[1], "body": json.loads(row[2])})


async def write(request: Request) -> Response:
    form = parse_qs((await request.body()).decode())
    item = {"id": "it_" + secrets.token_hex(12), "amount": int(form.get("amount", ["1"])[0]), "at": time.time()}
    _conn.execute("BEGIN IMMEDIATE")
    _conn.execute("INSERT INTO items VALUES (?, ?, ?)", (item["id"], item["amount"], json.dumps(item)))
    _conn.execute("COMMIT")
    return _json(item)


app = Starlette(routes=[Route("/read/{id}", read), Route("/write", write, methods=["POST"])])
