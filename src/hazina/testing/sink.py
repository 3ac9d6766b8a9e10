"""A webhook sink: a small HTTP/1.1 server on asyncio that records every request it receives.

Each path answers by a behaviour the test chooses: a status, failing the first N requests, hanging
without an answer, or a 410. Every request is recorded (headers, exact body bytes, arrival time),
so a test can verify signatures over the bytes that actually arrived and measure retry gaps.
It speaks keep-alive, so a pooled client reuses its connections as it would with a real receiver.
"""

import asyncio
import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus

MAX_BODY = 1 << 20


@dataclass(frozen=True, slots=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]  # lower-case names
    body: bytes
    at: float  # time.time() at arrival


@dataclass(frozen=True, slots=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering, like a receiver doing some work


# Given the request and how many requests this path had before it, what to answer;
# None: never answer (the sender's timeout must end the attempt).
Behaviour = Callable[[Received, int], Reply | None]


def always(status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> Behaviour:
    reply = Reply(status, body or _phrase(status).encode(), headers or {})
    return lambda _request, _count: reply


def fail_first(failures: int, status: int = 500) -> Behaviour:
    """Answer `status` to the first `failures` requests, 200 afterwards."""
    return lambda _request, count: Reply(status, b"not yet") if count < failures else Reply()


def slow(seconds: float) -> Behaviour:
    reply = Reply(delay=seconds)
    return lambda _request, _count: reply


def hang() -> Behaviour:
    return lambda _request, _count: None


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Status"


class WebhookSink:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.received: list[Received] = []
        self._behaviours: dict[str, Behaviour] = {}
        self._counts: dict[str, int] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[None]] = set()
        self._arrived = asyncio.Condition()

    def on(self, path: str, behaviour: Behaviour) -> str:
        """Set how `path` answers; returns its URL."""
        self._behaviours[path] = behaviour
        return self.url(path)

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def at(self, path: str) -> list[Received]:
        return [request for request in self.received if request.path == path]

    async def start(self) -> "WebhookSink":
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> "WebhookSink":
        return await self.start()

    async def __aexit__(self, *_: object) -> None:
        await self.stop()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        try:
            while await self._exchange(reader, writer):
                pass
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:
            # Only `stop` cancels a connection; ending quietly keeps asyncio from logging the
            # cancelled connection task as an error.
            pass
        finally:
            self._connections.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _exchange(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """One request and its answer; False when the connection is to close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        lines = head.decode("latin-1").split("\r\n")
        method, target, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            raise ValueError("body too large")
        body = await reader.readexactly(length)
        request = Received(method, target.split("?", 1)[0], headers, body, time.time())
        behaviour = self._behaviours.get(request.path, always(200, b"ok"))
        count = self._counts.get(request.path, 0)
        self._counts[request.path] = count + 1
        self.received.append(request)
        async with self._arrived:
            self._arrived.notify_all()
        reply = behaviour(request, count)
        if reply is None:
            await asyncio.Event().wait()  # hang until the client gives up or the sink stops
            return False
        if reply.delay:
            await asyncio.sleep(reply.delay)
        phrase = _phrase(reply.status)
        extra = "".join(f"{name}: {value}\r\n" for name, value in reply.headers.items())
        writer.write(
            f"HTTP/1.1 {reply.status} {phrase}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(reply.body)}\r\n{extra}\r\n".encode("latin-1")
            + reply.body
        )
        await writer.drain()
        return headers.get("connection", "").lower() != "close"

    async def wait_for(self, count: int, path: str | None = None, within: float = 15.0) -> None:
        """Until `count` requests (to `path`, or in all) have arrived, or fail at the deadline."""

        def enough() -> bool:
            return len(self.at(path) if path else self.received) >= count

        async with asyncio.timeout(within), self._arrived:
            await self._arrived.wait_for(enough)
