"""Logs an operator can follow: one line per request and per job, each carrying the id of the
request or job it was logged under.

The ids live in context variables: a request is served in one task, a job runs in its own, so
every line logged while serving it (by Hazina, SQLAlchemy, httpx…) picks the id up through
`ContextFilter` without being handed it. Production writes JSON lines (`JsonFormatter`), whose
fields are an explicit list: a record's other attributes (headers, bodies, whatever a caller
passed as `extra`) are never written, so a secret cannot ride along.
"""

import itertools
import json
import logging
import os
import re
import secrets
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime

_request_id: ContextVar[str | None] = ContextVar("hazina_request_id", default=None)
_job_id: ContextVar[int | None] = ContextVar("hazina_job_id", default=None)

# An incoming X-Request-Id is kept only if it is short and plain: it is echoed in a header and
# written to every log line, so no CR/LF, quotes or unbounded length from a client.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,64}")

# Ids are a per-process random prefix and a counter: unique across processes and restarts, and a
# fraction of the cost of a UUID on a path budgeted in microseconds.
_prefix = secrets.token_hex(4)
_counter = itertools.count(1)


def _reseed() -> None:
    global _prefix, _counter
    _prefix = secrets.token_hex(4)
    _counter = itertools.count(1)


# A forked child would otherwise hand out its parent's ids.
os.register_at_fork(after_in_child=_reseed)


def new_request_id() -> str:
    return f"{_prefix}-{next(_counter):x}"


def request_id_from(header: bytes | None) -> str:
    """The caller's X-Request-Id when it is sane (so a proxy's id follows the request through),
    else a new one."""
    if header is not None and _SAFE_REQUEST_ID.fullmatch(header):
        return header.decode("ascii")
    return new_request_id()


def bind_request(request_id: str) -> Token[str | None]:
    return _request_id.set(request_id)


def unbind_request(token: Token[str | None]) -> None:
    _request_id.reset(token)


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def job_context(job_id: int) -> Iterator[None]:
    """Every line logged while the job runs carries its id."""
    token = _job_id.set(job_id)
    try:
        yield
    finally:
        _job_id.reset(token)


class ContextFilter(logging.Filter):
    """Stamps each record with the request or job it was logged under."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.job_id = _job_id.get()
        return True


# The only attributes of a record a JSON line carries besides time, level, logger and message.
_FIELDS = (
    "request_id",
    "job_id",
    "method",
    "route",
    "path",
    "status",
    "duration_ms",
    "kind",
    "attempt",
    "outcome",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for a log shipper to index."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in _FIELDS:
            value = getattr(record, name, None)
            if value is not None:
                line[name] = value
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """Development: the familiar line, with the request or job id in brackets."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s%(context)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        request_id = getattr(record, "request_id", None)
        job_id = getattr(record, "job_id", None)
        if request_id is not None:
            record.context = f" [{request_id}]"
        elif job_id is not None:
            record.context = f" [job {job_id}]"
        else:
            record.context = ""
        return super().format(record)


def configure(*, json_lines: bool, level: int | str = logging.INFO) -> None:
    """The process's one log handler (stderr), replacing any installed before."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(ContextFilter())
    handler.setFormatter(JsonFormatter() if json_lines else TextFormatter())
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level)
