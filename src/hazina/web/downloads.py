"""A CSV download streamed as it is produced: the exports' one response shape."""

from collections.abc import AsyncIterator

from fastapi.responses import StreamingResponse

from hazina.domain.clock import utc_now


def csv_download(chunks: AsyncIterator[str], name: str) -> StreamingResponse:
    """`name` gets the time of the export (UTC) and `.csv`; never cached, never sniffed."""
    filename = f"{name}-{utc_now():%Y%m%d-%H%M%S}.csv"
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",
        },
    )
