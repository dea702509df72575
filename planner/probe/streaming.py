"""Read a streamed HTTP response (requests) in blocks, as soon as each block arrives, bounded.

`requests`' `iter_lines()` reads 512-byte blocks and waits until a block is full, which would delay
token timestamps; with `chunk_size=None` it yields each HTTP chunk as it arrives but reads a whole
chunk however large the server declares it, and its line splitting keeps an unfinished line in
memory without limit. So chunked responses (what vLLM, llama.cpp, Ollama and friends send) are read
with urllib3's `read_chunked(amt)`: each HTTP chunk as it arrives, at most `_READ_SIZE` at a time.
A response without chunked encoding (HTTP/1.0-style, ended by closing the connection) is read with
`read1`, whatever bytes are available. Lines are split by `planner.probe.limits.LineSplitter`.
"""

from __future__ import annotations

from collections.abc import Iterator

import requests

_READ_SIZE = 64 * 1024


def iter_stream_blocks(response: requests.Response) -> Iterator[bytes]:
    """Yield the bytes of a `stream=True` response as they arrive, at most 64 KiB at a time."""
    raw = response.raw
    if getattr(raw, "chunked", False) and raw.supports_chunked_reads():
        # No decoding: the probe asks for `Accept-Encoding: identity`.
        yield from raw.read_chunked(_READ_SIZE, decode_content=False)
        return
    while data := raw.read1(_READ_SIZE):  # returns as soon as any bytes are available
        yield data
