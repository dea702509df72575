"""Read a streamed HTTP response line by line, as soon as each line arrives.

`requests`' default `iter_lines()` reads 512-byte blocks and waits until a
block is full, which would delay token timestamps; with `chunk_size=None`
it yields each HTTP chunk as it arrives, but only for chunked transfer
encoding (what vLLM, llama.cpp, Ollama and friends use). A response without
chunked encoding (HTTP/1.0-style, ended by closing the connection) would be
read to EOF in one go, so for those we read whatever bytes are available.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests

_READ_SIZE = 64 * 1024


def iter_stream_lines(response: requests.Response) -> Iterator[bytes]:
    """Yield each line (without the newline) of a `stream=True` response as it arrives."""
    raw = response.raw
    if getattr(raw, "chunked", False):
        yield from response.iter_lines(chunk_size=None)
        return
    buffer = b""
    while True:
        data = raw.read1(_READ_SIZE)  # returns as soon as any bytes are available
        if not data:
            break
        buffer += data
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.rstrip(b"\r")
    if buffer:
        yield buffer.rstrip(b"\r")
