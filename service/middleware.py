"""ASGI middleware: request ids and access logs, metrics, a body-size limit, security headers.

Plain ASGI (not ``BaseHTTPMiddleware``) so that responses stream through untouched and cheaply.
"""

from __future__ import annotations

import base64
import contextvars
import hashlib
import json
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.metrics import Metrics

logger = logging.getLogger("service.access")

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
_TEMPLATES = Path(__file__).parent / "templates"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _script_hash(body: str) -> str:
    """The CSP source that allows the one inline script whose text is ``body``."""
    return f"'sha256-{base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()}'"


def inline_script_hashes(html: str) -> list[str]:
    """CSP sources that allow exactly the inline scripts of the page ``html``."""
    return [_script_hash(body) for body in _INLINE_SCRIPT.findall(html)]


def _template_script_hashes() -> list[str]:
    """CSP hashes of the templates' static inline scripts (templated ones would not match)."""
    return [
        _script_hash(body)
        for template in sorted(_TEMPLATES.glob("*.html"))
        for body in _INLINE_SCRIPT.findall(template.read_text("utf-8"))
        if "{{" not in body and "{%" not in body
    ]


CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'unsafe-inline'",  # the one <style> block of base.html
        "script-src " + (" ".join(_template_script_hashes()) or "'none'"),
        "img-src 'self' data:",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


class _TooLarge(BaseException):
    """Raised from ``receive``; a BaseException so that FastAPI's body parser (which turns any
    Exception into a 400) lets it through to the middleware."""


class ServiceMiddleware:
    """One pass over every HTTP request.

    - ``X-Request-ID``: an incoming sane id (letters, digits, ``._:-``, at most 128) is kept,
      otherwise a new one is made; it is sent back and put on every log record of the request.
    - Bodies over ``max_body_bytes`` get 413 (by ``Content-Length`` or while streaming).
    - Security headers on every response; a Content-Security-Policy on HTML pages.
    - Counts and times the request for ``/metrics`` and logs one access line.
    """

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body_bytes: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        rid = incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500
        response_started = False

        async def send_wrapper(message: Message) -> None:
            nonlocal status, response_started
            if message["type"] == "http.response.start":
                response_started = True
                status = message["status"]
                out = MutableHeaders(scope=message)
                out["X-Request-ID"] = rid
                for name, value in SECURITY_HEADERS.items():
                    out.setdefault(name, value)
                # A page that sets a policy of its own (the API docs) keeps it.
                if out.get("content-type", "").startswith("text/html"):
                    out.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
            await send(message)

        received = 0

        async def receive_wrapper() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _TooLarge
            return message

        try:
            length = headers.get("content-length", "")
            if length.isdigit() and int(length) > self.max_body_bytes:
                await self._too_large(send_wrapper)
            else:
                try:
                    await self.app(scope, receive_wrapper, send_wrapper)
                except _TooLarge:
                    if response_started:
                        raise
                    await self._too_large(send_wrapper)
        finally:
            elapsed = time.perf_counter() - started
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            self.metrics.observe(route, scope["method"], status, elapsed)
            logger.info(
                "%s %s %d %.1fms", scope["method"], scope["path"], status, elapsed * 1000,
                extra={"method": scope["method"], "path": scope["path"], "status": status,
                       "duration_ms": round(elapsed * 1000, 1)},
            )  # fmt: skip
            request_id.reset(token)

    async def _too_large(self, send: Send) -> None:
        body = json.dumps(
            {"detail": f"the request body is larger than {self.max_body_bytes} bytes"}
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on every record as ``request_id``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request id and extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for key, value in vars(record).items():
            if key not in _STANDARD and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(log_json: bool) -> None:
    """Add the request id to every handler's records; with ``log_json``, format them as JSON."""
    root = logging.getLogger()
    for handler in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())
        if log_json:
            handler.setFormatter(JsonFormatter())
