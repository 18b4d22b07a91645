"""`smac-bridge dashboard`: a local web server for a live page of an output folder.

Tornado serves it: SMAC3 depends on dask's `distributed`, which is built on Tornado, so the
server comes with smac-bridge's own dependencies and needs nothing more. The page
(`dashboard_static/`, with the chart and table libraries it uses) polls the JSON endpoints
below; every answer comes from `dashboard_data.Views`, and the only write, the stop button,
is `monitor.request_stop`, as `smac-bridge stop` does.

Security: every request must carry a random token, printed in the URL at start (in the URL,
as an `X-Token` header, or in the cookie the page gets on its first visit): on a machine that
users share, the loopback address is open to every one of them, and the page shows logs and
stops runs. By default the server listens on 127.0.0.1 only, and there it answers only
requests whose Host is a loopback name, so that a web page elsewhere cannot reach it through
DNS rebinding. A POST must also be a JSON request from the page's own origin, which a form on
another site cannot send.
"""

from __future__ import annotations

import asyncio
import errno
import html
import ipaddress
import json
import os
import secrets
import socket
import tempfile
import webbrowser
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tornado import httpserver, httputil, netutil, web

from smac_bridge.dashboard_data import Views
from smac_bridge.errors import InputError
from smac_bridge.layout import json_text

STATIC = Path(__file__).with_name("dashboard_static")
LOOPBACK_NAMES = ("localhost",)
#: Headers of every answer: no framing (a stop button must not be clicked through another
#: page), no referrer (the token is in the URL), scripts only from this server.
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; frame-ancestors 'none'",
}


def is_loopback(host: str) -> bool:
    """Whether HOST (a name or an address, IPv6 with or without brackets) is this machine
    only."""
    host = host.strip("[]").lower()
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guarded(web.RequestHandler):
    """Every handler's checks: the token, and the Host of a loopback server.

    Messages of errors carry what a request sent only as arguments (`"%s", value`), never in
    the format, where a `%` would break Tornado's log line."""

    views: Views
    token: str
    loopback: bool

    def initialize(self, views: Views, token: str, loopback: bool) -> None:
        self.views = views
        self.token = token
        self.loopback = loopback

    def set_default_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.set_header(name, value)

    @property
    def cookie_name(self) -> str:
        """One cookie per port: cookies ignore ports, and two dashboards may share a host."""
        _, port = httputil.split_host_and_port(self.request.host)
        return f"smac_bridge_token_{port or 80}"

    def prepare(self) -> None:
        host = self.request.host_name
        if self.loopback and not is_loopback(host):
            raise web.HTTPError(403, "this dashboard answers on loopback names, not %s", host)
        given = (
            self.get_query_argument("token", None)
            or self.request.headers.get("X-Token")
            or self.get_cookie(self.cookie_name)
        )
        if not given or not secrets.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPError(403, "a token is needed: use the URL the dashboard printed")
        if self.get_query_argument("token", None):
            self.set_cookie(self.cookie_name, self.token, httponly=True, samesite="Strict")

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        error = kwargs.get("exc_info", (None, None))[1]
        message = None
        if isinstance(error, web.HTTPError) and error.log_message:
            message = error.log_message % error.args if error.args else error.log_message
        self.finish({"error": message or self._reason})


class Api(Guarded):
    """JSON answers; an InputError (an unknown rungroup or run, a run that is not running)
    is a 400 with its message."""

    def answer(self, make: Callable[[], Any]) -> None:
        try:
            data = make()
        except InputError as error:
            raise web.HTTPError(400, "%s", error.message) from None
        self.set_header("Content-Type", "application/json; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish(json_text(data))

    def offset(self) -> int | None:
        text = self.get_query_argument("offset", None)
        if text is None or text == "":
            return None
        if not (text.isascii() and text.isdigit()):  # "²" is a digit to isdigit
            raise web.HTTPError(400, "offset must be a number of bytes, got %r", text)
        if len(text) > 30:  # past any log's end, and past what int() reads (4300 digits)
            raise web.HTTPError(400, "offset must be a number of bytes, got %d digits", len(text))
        return int(text)


class StatusApi(Api):
    def get(self) -> None:
        self.answer(self.views.status)


class RunsApi(Api):
    def get(self) -> None:
        self.answer(lambda: self.views.runs(self.get_query_argument("group")))


class CurvesApi(Api):
    def get(self) -> None:
        self.answer(lambda: self.views.curves(self.get_query_argument("group")))


class ProgressApi(Api):
    def get(self) -> None:
        self.answer(lambda: self.views.progress(self.get_query_argument("group")))


class LogApi(Api):
    def get(self) -> None:
        group, run_id = self.get_query_argument("group"), self.get_query_argument("run")
        file, offset = self.get_query_argument("file", None), self.offset()
        self.answer(lambda: self.views.log(group, run_id, offset, file))


class StopApi(Api):
    """POST {"group", "run"}: the stop button."""

    def post(self) -> None:
        content_type = self.request.headers.get("Content-Type", "").split(";")[0].strip()
        if content_type != "application/json":
            raise web.HTTPError(415, "expected a JSON request")
        origin = self.request.headers.get("Origin")
        if origin is not None and origin != f"{self.request.protocol}://{self.request.host}":
            raise web.HTTPError(403, "requests from %s may not stop runs", origin)
        try:
            body = json.loads(self.request.body)
            group, run_id = str(body["group"]), str(body["run"])
        except (ValueError, KeyError, TypeError):
            raise web.HTTPError(400, 'expected {"group": ..., "run": ...}') from None
        self.answer(lambda: self.views.stop(group, run_id))


class Page(Guarded):
    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.set_header("Cache-Control", "no-store")
        self.finish((STATIC / "index.html").read_bytes())


class Static(Guarded, web.StaticFileHandler):
    """The page's scripts and styles, shipped in the package."""

    def initialize(  # type: ignore[override]  # tornado passes the route's keywords
        self, views: Views, token: str, loopback: bool, path: str
    ) -> None:
        Guarded.initialize(self, views, token, loopback)
        web.StaticFileHandler.initialize(self, path)

    def set_extra_headers(self, path: str) -> None:
        # ask again each time (a 304 when unchanged): an upgraded package is seen at once
        self.set_header("Cache-Control", "no-cache")


def make_app(outdir: Path, token: str, loopback: bool) -> web.Application:
    """The dashboard of OUTDIR: every request must carry TOKEN; on a LOOPBACK address, and
    name a loopback host."""
    context = {"views": Views(outdir), "token": token, "loopback": loopback}
    return web.Application(
        [
            (r"/", Page, context),
            (r"/api/status", StatusApi, context),
            (r"/api/runs", RunsApi, context),
            (r"/api/curves", CurvesApi, context),
            (r"/api/progress", ProgressApi, context),
            (r"/api/log", LogApi, context),
            (r"/api/stop", StopApi, context),
            (r"/static/(.*)", Static, {**context, "path": str(STATIC)}),
        ],
    )


def url(host: str, port: int, token: str) -> str:
    """The address to open: a wildcard address is shown as this machine's name."""
    if host in ("", "0.0.0.0", "::"):
        host = socket.gethostname()
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{port}/?token={token}"


def serve(
    outdir: Path, host: str, port: int, open_browser: bool, say: Callable[[str], None]
) -> None:
    """Serve the dashboard of OUTDIR on HOST:PORT (0: a free port); SAY the URL."""
    token = secrets.token_urlsafe(24)
    try:
        sockets = netutil.bind_sockets(port, address=host)
    except OSError as error:
        hint = (
            ": another program listens there; choose another --port, or --port 0 for any free one"
            if error.errno == errno.EADDRINUSE
            else ""
        )
        raise InputError(
            None, None, f"cannot listen on {host}:{port}: {error.strerror or error}{hint}"
        ) from None
    address = url(host, sockets[0].getsockname()[1], token)

    async def run() -> None:
        server = httpserver.HTTPServer(make_app(outdir, token, is_loopback(host)))
        server.add_sockets(sockets)
        say(f"dashboard of {outdir} at {address} (Ctrl-C stops it)")
        if page is not None:
            webbrowser.open(page.as_uri())
        await asyncio.Event().wait()

    page = redirect_page(address, outdir) if open_browser else None
    try:
        asyncio.run(run())  # until Ctrl-C, which cli.py's handler turns into "dashboard stopped"
    finally:
        if page is not None:
            page.unlink(missing_ok=True)


def redirect_page(address: str, outdir: Path) -> Path:
    """A page private to this user that sends the browser on to ADDRESS: the browser's
    command line, which every user of the machine can read, names this file, not the token.
    In OUTDIR where this user may write there (a browser installed as a snap has a /tmp of
    its own), else in the temporary folder."""
    folder = outdir if outdir.is_dir() and os.access(outdir, os.W_OK) else None
    handle, name = tempfile.mkstemp(prefix="smac-bridge-dashboard-", suffix=".html", dir=folder)
    link = html.escape(address, quote=True)
    with os.fdopen(handle, "w", encoding="utf-8") as page:  # mode 0600
        page.write(
            f'<!doctype html><meta http-equiv="refresh" content="0; url={link}">'
            f'<a href="{link}">the smac-bridge dashboard</a>\n'
        )
    return Path(name)
