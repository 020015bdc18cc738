"""The HTTP service: ``create_app(model_path)`` -> a FastAPI app (run by ``anomalib-ae serve``).

Endpoints: ``POST /score``, ``GET /metrics``, ``GET /health``, ``GET /`` (live page),
``GET /api/recent`` (the page's data), ``GET /api/model``. See docs/monitoring.md.

Concurrency: the event loop only parses and answers; scoring runs in a pool of ``workers``
threads (default 1). PyTorch is set to one intra-op thread (``torch.set_num_threads(1)``)
so that ``workers`` scoring threads use ``workers`` cores and do not oversubscribe the
machine; raise ``--workers`` on a bigger machine. At most ``max_pending`` requests are
admitted at once (scoring or waiting); beyond that a request gets 429 with ``Retry-After``.
``/health`` and ``/metrics`` never wait for scoring.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.resources import files

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, disable_created_metrics, generate_latest
from starlette.requests import ClientDisconnect

from anomalib_ae.records import _clean
from anomalib_ae.serve.bodies import BadInput, parse_body, read_limited
from anomalib_ae.serve.live import LiveState
from anomalib_ae.serve.metrics import ServiceMetrics
from anomalib_ae.serve.scorer import ModelService

log = logging.getLogger("anomalib_ae.serve")

DEFAULT_MAX_BODY_BYTES = 32 * 1024 * 1024
STATIC = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
_ENDPOINTS = {"/score", "/metrics", "/health", "/", "/api/recent", "/api/model", "/static/dashboard.js",
              "/static/dashboard.css"}


def set_torch_threads(n: int = 1) -> None:
    """One intra-op thread per scoring worker (see the module docstring)."""
    try:
        import torch

        torch.set_num_threads(int(n))
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:  # already set, or parallel work has started: keep the current value
            pass
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass


class _Timing:
    """Pure ASGI middleware: request latency histogram and request counter per endpoint and status."""

    def __init__(self, app, metrics: ServiceMetrics):
        self.app, self.metrics = app, metrics

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path = scope.get("path", "")
        endpoint = path if path in _ENDPOINTS else "other"
        status = {"code": 500}

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            self.metrics.latency.labels(endpoint).observe(time.perf_counter() - t0)
            self.metrics.requests.labels(endpoint, str(status["code"])).inc()


def create_app(model_path, *, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, max_entities: int = 100,
               entity_idle_s: float = 600.0, workers: int = 1, max_pending: int = 256, max_files: int = 1000,
               top_k: int = 3):
    """Build the service for one model file (loaded once, here).

    Parameters
    ----------
    model_path : path
        A model file written by ``fit`` / ``save``: a detector (scored as a table) or a Pipeline.
    max_body_bytes : int, default=32 MiB
        Larger request bodies get 413, enforced while the body streams in.
    max_entities : int, default=100
        Entity labels on the per-entity metrics (more go to ``_other``).
    entity_idle_s : float, default=600
        An entity idle this long gives up its label to a new one.
    workers : int, default=1
        Scoring threads (each with one torch thread).
    max_pending : int, default=256
        Requests admitted at once; more get 429.
    max_files : int, default=1000
        Files per multipart request.
    top_k : int, default=3
        Contributing features listed per flagged item.
    """
    set_torch_threads(1)
    # no *_created series: they double the exposition and no dashboard or alert reads them
    # (process-wide setting of prometheus-client)
    disable_created_metrics()
    service = ModelService(model_path, top_k=top_k)
    metrics = ServiceMetrics(service.info, calibration_scores=service.calibration_scores,
                             threshold=service.threshold, max_entities=max_entities, entity_idle_s=entity_idle_s)
    live = LiveState()
    pool = ThreadPoolExecutor(max_workers=max(1, int(workers)), thread_name_prefix="anomalib-ae-score")
    state = {"pending": 0, "started": time.time()}

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        yield
        pool.shutdown(wait=False, cancel_futures=True)

    app = FastAPI(title="anomalib_ae scoring service", version=_version(), docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    app.state.service, app.state.metrics, app.state.live = service, metrics, live

    def model_dict() -> dict:
        i = service.info
        return {"name": i.name, "detector": i.detector, "kind": i.kind, "format_version": i.format_version,
                "digest": i.digest, "threshold": service.threshold, "feature_columns": service.expected_columns()}

    def refuse(status: int, kind: str, reason: str) -> JSONResponse:
        metrics.errors.labels(kind=kind).inc()
        return JSONResponse({"error": reason, "kind": kind}, status_code=status)

    @app.post("/score")
    async def score(request: Request, source: str = "http", entity: str | None = None):
        """Score JSON rows, a CSV / Parquet table or uploaded image / audio files: one record per item."""
        if state["pending"] >= max_pending:
            metrics.errors.labels(kind="overloaded").inc()
            return JSONResponse({"error": f"too many requests in flight ({max_pending}); retry", "kind": "overloaded"},
                                status_code=429, headers={"Retry-After": "1"})
        state["pending"] += 1
        try:
            data = await read_limited(request, max_body_bytes)
            body = await parse_body(request, data, max_files=max_files)
            src = body.fields.get("source", source)
            ent = body.fields.get("entity", entity)
            loop = asyncio.get_running_loop()
            records = await loop.run_in_executor(pool, lambda: service.score_body(body, source=src, entity=ent))
        except BadInput as exc:
            return refuse(exc.status, exc.kind, exc.reason)
        except ClientDisconnect:
            metrics.errors.labels(kind="client_disconnect").inc()
            log.info("client disconnected before sending the whole body")
            return Response(status_code=400)
        except Exception as exc:  # noqa: BLE001 - the service never dies on input
            log.exception("scoring failed")
            return refuse(500, "internal", f"internal error while scoring: {type(exc).__name__}: {exc}")
        finally:
            state["pending"] -= 1
        default_entity = ent or src
        metrics.observe_records(records, default_entity)
        drift = service.drift_status()
        metrics.observe_drift(drift)
        live.add(records, default_entity, drift)
        dicts = [r.to_dict() for r in records]
        if "application/x-ndjson" in request.headers.get("accept", ""):
            import json

            return Response("".join(json.dumps(d) + "\n" for d in dicts), media_type="application/x-ndjson")
        return JSONResponse({
            "model": service.info.name, "model_digest": service.info.digest, "threshold": service.threshold,
            "n_items": len(dicts), "n_anomalies": sum(1 for d in dicts if d["is_anomaly"]),
            "n_errors": sum(1 for d in dicts if d["error"] is not None), "records": dicts,
        })

    @app.get("/metrics")
    def prometheus_metrics():
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/health")
    async def health():
        return {"status": "ok", "model": service.info.name, "model_digest": service.info.digest,
                "kind": service.kind, "uptime_s": round(time.time() - state["started"], 3),
                "pending_requests": state["pending"]}

    @app.get("/api/model")
    async def api_model():
        return _clean(model_dict())

    @app.get("/api/recent")
    async def api_recent(since: int = 0):
        snap = live.snapshot(since)
        snap["model"] = model_dict()
        return JSONResponse(_clean(snap))

    page = files("anomalib_ae.serve").joinpath("static/index.html").read_text(encoding="utf-8")
    assets = {k: files("anomalib_ae.serve").joinpath("static/" + k).read_text(encoding="utf-8") for k in STATIC}

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return HTMLResponse(page)

    @app.get("/static/{name}")
    async def static(name: str):
        if name not in assets:
            return JSONResponse({"error": f"no static file {name!r}"}, status_code=404)
        return Response(assets[name], media_type=STATIC[name], headers={"Cache-Control": "no-cache"})

    app.add_middleware(_Timing, metrics=metrics)
    return app


def _version() -> str:
    import anomalib_ae

    return anomalib_ae.__version__
