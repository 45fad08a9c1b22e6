"""The HTTP floor for benchmarks/callback_load.py (--bare): an aiohttp server in one process, set up as
`xianfeng serve`'s web process is (no access log), whose callback route reads the body and answers an
empty 200 without looking at it. What it costs per request is what aiohttp, asyncio and the kernel's
sockets cost any answering process on this machine, before any signature, AES, XML or database.

    python benchmarks/bare_aiohttp.py PORT
"""
from __future__ import annotations

import sys

from aiohttp import web


async def _callback(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(text="")


async def _healthz(_request: web.Request) -> web.Response:
    return web.Response(text="ok")


def main() -> None:
    app = web.Application(client_max_size=64 * 1024)
    app.router.add_post("/wecom/callback", _callback)
    app.router.add_get("/healthz", _healthz)
    web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)


if __name__ == "__main__":
    main()
