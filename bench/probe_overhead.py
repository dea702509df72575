"""How much does the live probe itself cost, and when does it become the bottleneck?

Starts a fast fake OpenAI streaming server (asyncio, in a subprocess so its
CPU is not counted as the client's) on 127.0.0.1 and:

1. measures the probe's CPU seconds per streamed token against a server that
   streams with no delay (the client's worst case), and the most tokens/s one
   client process can take in;
2. sweeps concurrency with streams paced at a realistic per-stream decode
   speed, and reports the most streams at which the client's overhead stays
   under 5%: the inter-token gap it adds and the per-stream speed it loses,
   against the pace the server keeps (the target is 1,024 streams, a vLLM
   replica's default running batch on an H100).

Run: .venv/bin/python bench/probe_overhead.py [--quick]
Everything stays on the loopback interface and stops by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# -- the fake server (runs in the subprocess) ------------------------------------------
def _sse(obj: object) -> bytes:
    data = b"data: " + (obj if isinstance(obj, bytes) else json.dumps(obj).encode()) + b"\n\n"
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


_TOKEN_CHUNK = _sse({"choices": [{"index": 0, "delta": {"content": "tok "}, "finish_reason": None}]})
_HEAD = (b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
         b"Connection: keep-alive\r\n\r\n")


def _tail(n_tokens: int) -> bytes:
    return (_sse({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
            + _sse({"choices": [], "usage": {"prompt_tokens": 10, "completion_tokens": n_tokens}})
            + _sse(b"[DONE]") + b"0\r\n\r\n")


async def _handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            body = json.loads(await reader.readexactly(length)) if length else {}
            n_tokens = int(body.get("max_tokens", 16))
            interval_s = float(body.get("x_token_interval_s", 0.0))
            if interval_s <= 0:
                # One write for the whole stream: the server's cost stays negligible,
                # while the client still parses one HTTP chunk and one JSON event per token.
                writer.write(_HEAD + _TOKEN_CHUNK * n_tokens + _tail(n_tokens))
                await writer.drain()
                continue
            writer.write(_HEAD)
            start = time.monotonic()
            for i in range(n_tokens):
                writer.write(_TOKEN_CHUNK)
                delay = start + (i + 1) * interval_s - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            writer.write(_tail(n_tokens))
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(port: int) -> None:
    server = await asyncio.start_server(_handle, "127.0.0.1", port, backlog=1024)
    async with server:
        await server.serve_forever()


# -- the bench (client side) ------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cpu_s(pid: int) -> float:
    """User+system CPU seconds of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _start_server() -> tuple[subprocess.Popen, str]:
    port = _free_port()
    proc = subprocess.Popen([sys.executable, __file__, "--serve", str(port)])
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("the fake server did not start")


WORKERS = 1


def _level(url: str, server_pid: int, concurrency: int, requests: int, max_tokens: int, interval_s: float,
           rate_rps: float | None = None):
    from planner.probe import ProbeConfig, run_probe

    open_loop = {} if rate_rps is None else {"rates": (rate_rps,), "arrival": "constant"}
    config = ProbeConfig(url=url, model="bench", concurrency=(concurrency,), requests_per_level=requests, **open_loop,
                         max_tokens=max_tokens, prompt_tokens=16, warmup_requests=1, use_tokenizer=False,
                         gpu_telemetry=False, keep_request_log=False, timeout_s=60, workers=WORKERS,
                         extra_body={"x_token_interval_s": interval_s} if interval_s else {})
    server_cpu0 = _cpu_s(server_pid)
    result = run_probe(config)
    server_cpu_s = _cpu_s(server_pid) - server_cpu0
    (level,) = result.levels
    return level, server_cpu_s / max(result.wall_s, 1e-9)


#: The client's overhead must stay under this share of what it measures.
OVERHEAD_LIMIT = 0.05


def overhead(level, interval_s: float, request_s: float) -> float:
    """The client's distortion of what it measures, as a share: the largest of the inter-token gap
    it adds (ITL p50 against the server's pace), the per-stream speed it loses (p50 against it) and
    how late it sends against its schedule (send lag p90 against a request's length).
    The server sends each token on a fixed schedule, so any excess is the client's (or the
    machine's: client and server share its cores)."""
    itl = level.inter_token_s.p50 or float("inf")
    per_stream = level.output_tokens_per_s_per_stream.p50 or 0.0
    lag = level.send_lag_s.p90 if level.send_lag_s is not None else 0.0
    return max(itl / interval_s - 1.0, 1.0 - per_stream * interval_s, lag / request_s)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter levels")
    parser.add_argument("--stream-tokens-per-s", type=float, default=20.0,
                        help="per-stream pace of the paced sweep (default 20: a busy replica's per-stream decode "
                             "speed at ~1,000 sequences)")
    parser.add_argument("--levels", default=None, help="comma-separated concurrency levels of the paced sweep")
    parser.add_argument("--workers", type=int, default=1, help="client worker processes (ProbeConfig.workers)")
    args = parser.parse_args()
    global WORKERS
    WORKERS = args.workers
    if args.serve:
        from planner.probe.engine import new_event_loop

        loop = new_event_loop()  # uvloop where installed, as the client's
        loop.run_until_complete(_serve(args.serve))
        return 0

    proc, url = _start_server()
    try:
        print(f"probe overhead bench: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"fake OpenAI server (asyncio, its own process) on {url}; client: {args.workers} process(es), "
              "one event loop each")

        # 1. CPU per token with an unpaced server: the client's worst case.
        tokens = 200 if args.quick else 500
        for concurrency in (1, 4):
            level, server_busy = _level(url, proc.pid, concurrency, 4 * concurrency, tokens, 0.0)
            print(f"unpaced, concurrency {concurrency}: client CPU {level.client_cpu_s_per_token * 1e6:.1f} µs "
                  f"per token, aggregate {level.aggregate_output_tokens_per_s:,.0f} tokens/s, "
                  f"client {level.client_busy_cores:.2f} cores, server {server_busy:.2f} cores")
            if concurrency == 1:
                per_token_s = level.client_cpu_s_per_token
        print(f"client CPU per streamed token: {per_token_s * 1e6:.1f} µs "
              f"(one client process takes in at most ~{1 / per_token_s:,.0f} tokens/s on one core)")

        # 2. Paced streams: up to which concurrency does the client stay under 5% overhead?
        rate = args.stream_tokens_per_s
        interval_s = 1.0 / rate
        pace_tokens = int(rate * (3.0 if args.quick else 6.0))  # each request lasts 3-6 s
        if args.levels:
            levels = tuple(int(x) for x in args.levels.split(","))
        else:
            levels = (1, 64, 256, 1024) if args.quick else (1, 16, 64, 256, 512, 1024, 1536, 2048)
        request_s = pace_tokens * interval_s
        print(f"paced streams at {rate:.0f} tokens/s each, {pace_tokens} tokens ({request_s:.0f} s) per request; "
              f"requests arrive at a constant rate of streams ÷ {request_s:.0f} s for {2 * request_s:.0f} s, so the "
              "streams in flight climb to the level and hold there, as a replica's users do (all connecting in one "
              "instant would measure the connection storm, not the streaming); overhead = the larger of the ITL p50 "
              "excess, the per-stream speed shortfall and the send lag p90 ÷ request length:")
        sustained = None
        for concurrency in levels:
            arrivals_rps = concurrency / request_s
            level, server_busy = _level(url, proc.pid, concurrency, round(arrivals_rps * 2 * request_s), pace_tokens,
                                        interval_s, rate_rps=arrivals_rps)
            share = overhead(level, interval_s, request_s)
            per_stream = level.output_tokens_per_s_per_stream.p50 or 0.0
            print(f"  {concurrency:>5} streams ({level.max_in_flight} in flight at most): overhead {share:+.1%}, ITL p50 {level.inter_token_s.p50 * 1000:.2f} ms "
                  f"(server pace {interval_s * 1000:.1f}), p90 {level.inter_token_s.p90 * 1000:.2f} ms, per-stream p50 "
                  f"{per_stream:.2f} tokens/s, TTFT p50 {level.ttft_s.p50 * 1000:.0f} ms, aggregate "
                  f"{level.aggregate_output_tokens_per_s:,.0f} tokens/s, client {level.client_busy_cores:.2f} cores, "
                  f"server {server_busy:.2f} cores, errors {level.errors}, send lag p90 "
                  f"{(level.send_lag_s.p90 if level.send_lag_s else 0) * 1000:.1f} ms")
            if (share < OVERHEAD_LIMIT and level.errors == 0 and level.succeeded == level.requests
                    and level.max_in_flight >= concurrency):
                sustained = concurrency
            else:
                print(f"  → over {OVERHEAD_LIMIT:.0%} overhead (or errors) at {concurrency} streams")
                break
        if sustained is None:
            print("streams sustained at < 5% client overhead: none")
        else:
            print(f"streams sustained at < 5% client overhead: {sustained:,} in flight (at {rate:.0f} tokens/s each, "
                  f"{sustained * rate:,.0f} tokens/s aggregate) on {os.cpu_count()} CPUs shared with the server")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
