"""The web application: the page, its vendored assets, the event stream, replay controls."""


import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from forestock.serve._hub import Hub
from forestock.serve._progress import progress_path
from forestock.serve._timeline import ServeParams

log = logging.getLogger("forestock.serve")

STATIC = resources.files("forestock.serve") / "static"
COOKIE = "forestock_token"
_TYPES = {".js": "text/javascript; charset=utf-8", ".json": "application/json",
          ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
          ".txt": "text/plain; charset=utf-8", ".md": "text/plain; charset=utf-8"}
_HEADERS = {
    # everything the page needs is served from here: no other origin is reached
    "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; "
                               "img-src 'self' data:; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def _need_fastapi() -> Any:
    try:
        import fastapi
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise ImportError("forestock serve needs FastAPI and uvicorn: "
                          "pip install 'forestock[dashboard]'") from exc
    return fastapi


def map_names() -> list[str]:
    """Province names of the vendored map of China."""
    geo = json.loads((STATIC / "vendor" / "china.json").read_text(encoding="utf-8"))
    return [f["properties"]["name"] for f in geo["features"]]


def create_app(workspace: str | Path, params: ServeParams | None = None,
               progress: str | Path | None = None) -> Any:
    """The dashboard of ``workspace`` as an ASGI application (FastAPI).

    Parameters
    ----------
    workspace
        The workspace whose rehearsal is shown (its progress file, see
        :func:`forestock.serve.progress_path`).
    params
        Serving options and alert thresholds; default :class:`ServeParams`.
    progress
        Another progress file to follow instead of the workspace's.
    """
    fastapi = _need_fastapi()
    from fastapi import Request
    from fastapi.responses import JSONResponse, Response, StreamingResponse

    params = params or ServeParams()
    path = Path(progress) if progress is not None else progress_path(workspace)
    hub = Hub(path, params, map_names())
    ticker: list[asyncio.Task[None]] = []

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[None]:
        hub.poll()
        ticker.append(asyncio.create_task(hub.run()))
        yield
        ticker[0].cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker[0]

    app = fastapi.FastAPI(title="forestock control room", lifespan=lifespan, docs_url=None,
                          redoc_url=None, openapi_url=None)
    app.state.hub = hub

    @app.middleware("http")
    async def guard(request: Request, call_next: Callable[[Request], Awaitable[Any]]) -> Any:
        given = request.query_params.get("token") or request.cookies.get(COOKIE) or \
            request.headers.get("authorization", "").removeprefix("Bearer ").strip()
        if params.token is not None and not hmac.compare_digest(given.encode(),
                                                                params.token.encode()):
            return JSONResponse({"error": "a token is needed (?token=...)"}, status_code=401,
                                headers=_HEADERS)
        response = await call_next(request)
        response.headers.update(_HEADERS)
        if params.token is not None and request.query_params.get("token"):
            response.set_cookie(COOKIE, params.token, httponly=True, samesite="strict")
        return response

    def asset(name: str) -> Response:
        parts = Path(name).parts
        if not parts or any(p in ("..", "") or p.startswith(".") for p in parts):
            return JSONResponse({"error": "not found"}, status_code=404)
        node = STATIC
        for p in parts:
            node = node / p
        if not node.is_file():
            return JSONResponse({"error": "not found"}, status_code=404)
        kind = _TYPES.get(Path(name).suffix, "application/octet-stream")
        return Response(node.read_bytes(), media_type=kind,
                        headers={"Cache-Control": "max-age=3600"})

    @app.get("/")
    async def index() -> Response:
        return asset("index.html")

    @app.get("/static/{name:path}")
    async def static(name: str) -> Response:
        return asset(name)

    @app.get("/api/status")
    async def status() -> Any:
        return hub.status()

    @app.get("/api/frame")
    async def frame() -> Any:
        return hub.frame(0)

    @app.post("/api/replay")
    async def replay(request: Request) -> Any:
        try:
            body = await request.json()
            if not isinstance(body, dict):
                raise ValueError("the body must be a JSON object")
            value = body.get("value")
            return hub.control(str(body.get("action")),
                               None if value is None else float(value))
        except ValueError as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    @app.get("/events")
    async def events() -> Any:
        viewer = hub.subscribe()

        async def stream() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 1000\n\n"
                while True:
                    yield await viewer.queue.get()
            finally:
                hub.unsubscribe(viewer)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store",
                                          "X-Accel-Buffering": "no"})

    return app


def serve(workspace: str | Path, params: ServeParams | None = None,
          progress: str | Path | None = None) -> None:
    """Serve the dashboard of ``workspace`` until interrupted (uvicorn)."""
    _need_fastapi()
    import uvicorn

    params = params or ServeParams()
    app = create_app(workspace, params, progress)
    config = uvicorn.Config(app, host=params.host, port=params.port, log_level="warning",
                            access_log=False, lifespan="on",
                            timeout_graceful_shutdown=1)  # open event streams never end
    uvicorn.Server(config).run()
