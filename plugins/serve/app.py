"""The web application behind `qdaconv serve`: the page, its JSON API, and the guard in front of both.

Every request must come to 127.0.0.1 or localhost (the Host header, against DNS rebinding) and
carry the token: in the query once, after which the page lives on an HttpOnly, SameSite=Strict
cookie. Each API request gets its own private folder (mode 0700) for the upload and the result,
removed when the response is sent. The work itself runs in worker threads, at most `workers` at
a time, so the page and other requests stay responsive while a large study converts.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import shutil
import tempfile
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from qdaconv import __version__
from qdaconv.errors import FormatError, QdaconvError
from qdaconv.plugins.serve import uploads, work
from qdaconv.registry import default_registry
from qdaconv.safety import ZipLimits
from qdaconv.values import parse_bool

#: a terms list is names and places, a few kilobytes; read whole into memory, so kept well below the upload limit
TERMS_LIMIT = 16 * 1024 * 1024
STATIC = {"app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "cache-control": "no-store",
}


@dataclass
class Settings:
    """How the server runs: its secret token, its port, the upload limit in bytes, parallel jobs."""

    token: str
    port: int
    max_upload: int
    workers: int = 2
    slots: threading.BoundedSemaphore = field(init=False)
    folders: set[Path] = field(init=False, default_factory=set)  # the requests' private folders not yet removed

    def __post_init__(self) -> None:
        self.slots = threading.BoundedSemaphore(self.workers)

    def forget(self, folder: Path) -> None:
        """Remove a request's private folder."""
        shutil.rmtree(folder, ignore_errors=True)
        self.folders.discard(folder)

    @property
    def cookie(self) -> str:
        return f"qdaconv-token-{self.port}"  # cookies ignore ports: two servers must not share one

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset(f"{host}:{self.port}" for host in ("127.0.0.1", "localhost")) | (
            frozenset({"127.0.0.1", "localhost"}) if self.port == 80 else frozenset())

    def zip_limits(self) -> ZipLimits:
        """A zipped folder may unpack to at most 20 times the upload limit (and never look like a bomb)."""
        defaults = ZipLimits()
        return ZipLimits(max_total=min(defaults.max_total, 20 * self.max_upload),
                         max_member=min(defaults.max_member, 20 * self.max_upload))


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class Guard:
    """ASGI middleware: the Host check, the token (query once, then cookie), the Origin check, safe headers."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # the page uses no websockets: refuse them before any route sees them
            await send({"type": "websocket.close", "code": 1008})
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                message.setdefault("headers", [])
                message["headers"] = list(message["headers"]) + [
                    (name.encode(), value.encode()) for name, value in SECURITY_HEADERS.items()
                    if name.encode() not in present]
            await send(message)

        refusal = self.refusal(Request(scope))
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def refusal(self, request: Request) -> Response | None:
        """The response that turns the request away, or None to let it through."""
        settings = self.settings
        if request.headers.get("host", "") not in settings.hosts:
            return _error(403, "this server answers only at 127.0.0.1 or localhost")
        origin = request.headers.get("origin")
        if origin is not None and origin not in {f"http://{host}" for host in settings.hosts}:
            return _error(403, "requests from other sites are refused")
        given = request.query_params.get("token")
        if given is not None and hmac.compare_digest(given.encode(), settings.token.encode()):
            if request.method == "GET" and request.url.path == "/":
                # keep the token out of the address bar and history: it lives on in the cookie
                response = RedirectResponse("/", status_code=303)
                response.set_cookie(settings.cookie, settings.token, httponly=True, samesite="strict", path="/")
                return response
            return None
        cookie = request.cookies.get(settings.cookie, "")
        if cookie and hmac.compare_digest(cookie.encode(), settings.token.encode()):
            return None
        return _error(403, "open the link `qdaconv serve` printed: it carries the secret token")


# ------------------------------------------------------------------------------------------ requests


def scrub(value: Any, folder: Path, shown: str) -> Any:
    """`value` with the private folder's paths replaced by the names the user gave the uploads."""
    places = _places(folder, shown)

    def clean(item: Any) -> Any:
        if isinstance(item, str):
            return _replace(item, folder, places)
        if isinstance(item, list):
            return [clean(part) for part in item]
        if isinstance(item, dict):
            return {key: clean(part) for key, part in item.items()}
        return item

    return clean(value)


def _scrub_text(text: str, folder: Path, shown: str) -> str:
    return _replace(text, folder, _places(folder, shown))


def _replace(text: str, folder: Path, places: list[tuple[str, str]]) -> str:
    if folder.name not in text:  # every place lies in the folder: most texts (an agreement's names) hold none
        return text
    for place, name in places:
        text = text.replace(place, name)
    return text


def _places(folder: Path, shown: str) -> list[tuple[str, str]]:
    """The paths in the private folder a message may name, each with the name to show instead, longest first."""
    named = [(folder / "in" / "file" / "unpacked", shown), (folder / "in" / "file" / shown, shown),
             (folder / "out", shown)]
    fields = folder / "in"
    for field_folder in sorted(fields.iterdir()) if fields.is_dir() else ():  # a terms list, a second coder's file
        for name in [entry.name for entry in field_folder.iterdir() if entry.is_file()]:
            named += [(field_folder / "unpacked", name), (field_folder / name, name)]
    named.append((folder, "upload"))
    places = [(str(path.resolve()), name) for path, name in named] + [(str(path), name) for path, name in named]
    return sorted(places, key=lambda pair: -len(pair[0]))


@dataclass
class Job:
    """One API request's upload, in its private folder."""

    request: Request
    settings: Settings
    folder: Path
    study: Path
    shown: str
    from_: str | None
    upload: uploads.Upload | None = None  # every file and text field the request carried

    @property
    def texts(self) -> dict[str, str]:
        return self.upload.texts if self.upload is not None else {}

    @property
    def stem(self) -> str:
        return work.stem_of(self.shown)

    @property
    def out(self) -> Path:
        out = self.folder / "out"
        out.mkdir(exist_ok=True)
        return out

    async def run(self, function: Callable[..., Any], *args: Any) -> Any:
        """Run blocking work in a worker thread, at most `settings.workers` at once (the rest wait there)."""
        def bounded() -> Any:
            with self.settings.slots:
                return function(*args)

        return await run_in_threadpool(bounded)


Handler = Callable[[Job], Awaitable[Response]]


def api(handler: Handler, fields: tuple[str, ...] = ("file",), *, unknown_ok: bool = False,
        optional: tuple[str, ...] = (), texts: tuple[str, ...] = ()) -> Callable[[Request], Awaitable[Response]]:
    """An endpoint around `handler`: receive the upload into a fresh private folder, find the study in it,
    turn errors into JSON (4xx for the user's input, 500 for a fault of qdaconv), and remove the folder
    when the response has been sent. With `unknown_ok`, a file no format claims still reaches the
    handler (validation reports it as FORMAT-UNKNOWN, as `qdaconv validate` does). `optional` names
    file fields the request may carry beside `fields`, `texts` the text fields the handler reads."""

    async def endpoint(request: Request) -> Response:
        settings: Settings = request.app.state.settings
        folder = Path(tempfile.mkdtemp(prefix="qdaconv-serve-"))  # mode 0700, a new one per request
        settings.folders.add(folder)
        shown = "upload"
        try:
            upload = await uploads.receive(dict(request.headers), request.stream(), folder, fields,
                                           settings.max_upload, optional, texts)
            shown = upload.names["file"]
            from_ = request.query_params.get("from") or None
            job = Job(request, settings, folder, upload.files["file"], shown, from_, upload)
            try:
                job.study = await job.run(uploads.locate, job.study, from_, default_registry(),
                                          settings.zip_limits())
            except FormatError:
                if not unknown_ok:
                    raise
            response = await handler(job)
        except uploads.UploadError as exc:
            response = _error(exc.status, str(exc))
        except QdaconvError as exc:
            response = _error(422, _scrub_text(str(exc), folder, shown))
        except MemoryError:
            response = _error(413, f"{shown}: too large to read into this computer's memory")
        except Exception as exc:  # a fault of qdaconv, not of the upload: say so, and keep serving
            response = _error(500, f"internal error: {type(exc).__name__}: {_scrub_text(str(exc), folder, shown)} "
                                   "(this is a bug in qdaconv; please report it with the file if you can)")
        except BaseException:  # cancelled (the client went away): clean up and let it end
            settings.forget(folder)
            raise
        if isinstance(response, FileResponse):
            response.background = BackgroundTask(settings.forget, folder)
        else:
            settings.forget(folder)
        return response

    return endpoint


def download(path: Path, headers: dict[str, str] | None = None) -> FileResponse:
    """The file as an attachment, never rendered by the browser in this page's origin."""
    return FileResponse(path, filename=path.name, media_type="application/octet-stream", headers=headers)


async def info(job: Job) -> Response:
    data = await job.run(work.summary, job.study, job.from_, job.shown)
    return JSONResponse(scrub(data, job.folder, job.shown))


async def validate(job: Job) -> Response:
    data = await job.run(work.check, job.study, job.from_, job.shown)
    return JSONResponse(scrub(data, job.folder, job.shown))


async def convert(job: Job) -> Response:
    to = job.request.query_params.get("to")
    if not to:
        return _error(400, "name the target format: /api/convert?to=FORMAT (see /api/targets)")
    try:
        default_registry().for_target(job.out, to)
    except FormatError as exc:
        return _error(400, str(exc))
    profile = job.request.query_params.get("profile") or None
    path, report = await job.run(work.convert, job.study, job.from_, to, profile, job.out, job.stem)
    losses = json.dumps(scrub(report.as_dict(), job.folder, job.shown), ensure_ascii=True)
    return download(path, {"x-qdaconv-losses": losses, "x-qdaconv-format": to})


def _attachment(name: str) -> str:
    """A Content-Disposition naming the download `name` (any letters: RFC 6266's filename* when not ASCII)."""
    if name.isascii():
        return f'attachment; filename="{name}"'
    return f"attachment; filename*=utf-8''{quote(name)}"


def _flag(value: str | None) -> bool:
    """A form or query switch: on for the yes words the command line takes (1, true, yes, on, ...)."""
    return parse_bool(value) is True


async def redact(job: Job) -> Response:
    """The de-identified copy (or, with `log=1`, only the log of replacements: never both in one answer)."""
    query = job.request.query_params
    to = query.get("to") or None
    if to is not None:
        try:
            default_registry().for_target(job.out, to)
        except FormatError as exc:
            return _error(400, str(exc))
    assert job.upload is not None
    terms = job.upload.files["terms"]
    if terms.stat().st_size > TERMS_LIMIT:
        return _error(413, f"{job.upload.names['terms']}: a terms file of more than {TERMS_LIMIT // 1024**2} MB; "
                           "it lists names and places, one a line, as CSV")
    done = await job.run(work.redact, job.study, job.from_, terms,
                         job.texts.get("placeholder", "").strip() or None, _flag(job.texts.get("include_codes")),
                         to, query.get("profile") or None, job.out, job.stem)
    headers = {"x-qdaconv-losses": json.dumps(scrub(done.report.as_dict(), job.folder, job.shown), ensure_ascii=True),
               "x-qdaconv-redaction": json.dumps(done.figures())}
    if _flag(query.get("log")):
        # the key to the identities: sent from memory, never written on this machine, never beside the copy
        name = f"{job.stem}-replacements.csv"
        return Response(done.log.encode("utf-8"), media_type="text/csv; charset=utf-8",
                        headers={**headers, "content-disposition": _attachment(name)})
    return download(done.copy, headers)


async def coders(job: Job) -> Response:
    return JSONResponse({"coders": await job.run(work.coders_in, job.study, job.from_)})


async def agree(job: Job) -> Response:
    """`qdaconv agree --json`: users of one study (`coders`: two names or GUIDs), or one coder per file."""
    assert job.upload is not None
    texts = job.texts
    try:
        overlap = float(texts.get("overlap") or 90)
    except ValueError:
        return _error(400, f"the overlap is a percentage above 0 and at most 100, not {texts['overlap']!r}")
    if not 0 < overlap <= 100:
        return _error(400, f"the overlap is a percentage above 0 and at most 100, not {overlap:g}")
    pair = None
    if texts.get("coders", "").strip():
        names = tuple(name.strip() for name in texts["coders"].split(","))
        if len(names) != 2 or not all(names):
            return _error(400, "coders: give two names separated by a comma")
        pair = (names[0], names[1])
    second = job.upload.files.get("file2")
    if second is not None and pair is not None:
        return _error(400, "coders chooses users inside one project; with two files each file is a coder")
    shown2 = job.upload.names.get("file2", "")
    if second is not None:
        second = await job.run(uploads.locate, second, job.from_, default_registry(), job.settings.zip_limits())
    data = await job.run(work.agree, job.study, second, job.from_, (job.shown, shown2), pair, overlap)
    return JSONResponse(scrub(data, job.folder, job.shown))


def tool_endpoint(chosen: work.Tool) -> Callable[[Request], Awaitable[Response]]:
    async def run(job: Job) -> Response:
        path = await job.run(work.run_tool, chosen, job.study, job.from_, job.out, job.stem)
        return download(path)

    return api(run, chosen.fields)


# ------------------------------------------------------------------------------------------ the page


def _static(name: str) -> bytes:
    return files("qdaconv.plugins.serve").joinpath("static", name).read_bytes()


def create_app(settings: Settings) -> Starlette:
    """The application: the page at /, its scripts, the JSON API under /api/, all behind the Guard."""
    page = _static("index.html")
    assets = {name: _static(name) for name in STATIC}

    async def index(request: Request) -> Response:
        return Response(page, media_type="text/html; charset=utf-8")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:  # a fixed set of files held in memory: no path reaches the disk
            return _error(404, "no such file")
        return Response(assets[name], media_type=STATIC[name])

    async def targets(request: Request) -> Response:
        data = await run_in_threadpool(work.choices)
        return JSONResponse({**data, "max_upload": settings.max_upload, "version": __version__})

    async def rules(request: Request) -> Response:
        return JSONResponse(work.rules())

    routes = [
        Route("/", index),
        Route("/static/{name}", asset),
        Route("/api/targets", targets),
        Route("/api/rules", rules),
        Route("/api/info", api(info), methods=["POST"]),
        Route("/api/validate", api(validate, unknown_ok=True), methods=["POST"]),
        Route("/api/convert", api(convert), methods=["POST"]),
        Route("/api/redact", api(redact, ("file", "terms"), texts=("placeholder", "include_codes")),
              methods=["POST"]),
        Route("/api/coders", api(coders), methods=["POST"]),
        Route("/api/agree", api(agree, optional=("file2",), texts=("coders", "overlap")), methods=["POST"]),
        # commands of other plugins that make one file from a study
        *[Route(f"/api/{tool.name}", tool_endpoint(tool), methods=["POST"]) for tool in work.TOOLS],
    ]

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        yield
        for folder in list(settings.folders):  # responses cut short by a client that went away
            settings.forget(folder)

    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.settings = settings
    return Guard(app, settings)  # type: ignore[return-value]
