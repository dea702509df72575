"""How much does the live probe itself cost, and when does it become the bottleneck?

Starts a fast fake OpenAI streaming server (asyncio, in a subprocess so its
CPU is not counted as the client's) on 127.0.0.1 and:

1. measures the probe's CPU seconds per streamed token against a server that
   streams with no delay (the client's worst case), and the most tokens/s one
   client process can take in;
2. sweeps concurrency with streams paced at a realistic per-stream decode
   speed, and reports the highest concurrency at which aggregate throughput
   still scales (>= 90% of ideal) while the client is not saturated.

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


def _level(url: str, server_pid: int, concurrency: int, requests: int, max_tokens: int, interval_s: float):
    from planner.probe import ProbeConfig, run_probe

    config = ProbeConfig(url=url, model="bench", concurrency=(concurrency,), requests_per_level=requests,
                         max_tokens=max_tokens, prompt_tokens=16, warmup_requests=1, use_tokenizer=False,
                         gpu_telemetry=False, keep_request_log=False, timeout_s=30,
                         extra_body={"x_token_interval_s": interval_s} if interval_s else {})
    server_cpu0 = _cpu_s(server_pid)
    result = run_probe(config)
    server_cpu_s = _cpu_s(server_pid) - server_cpu0
    (level,) = result.levels
    return level, server_cpu_s / max(result.wall_s, 1e-9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter levels")
    parser.add_argument("--stream-tokens-per-s", type=float, default=50.0,
                        help="per-stream pace of the paced sweep (default 50, a typical decode speed)")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(_serve(args.serve))
        return 0

    proc, url = _start_server()
    try:
        print(f"probe overhead bench: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
              f"fake OpenAI server on {url}")

        # 1. CPU per token with an unpaced server: the client's worst case.
        tokens = 200 if args.quick else 500
        for concurrency in (1, 2, 4):
            level, server_busy = _level(url, proc.pid, concurrency, 4 * concurrency, tokens, 0.0)
            print(f"unpaced, concurrency {concurrency}: client CPU {level.client_cpu_s_per_token * 1e6:.0f} µs "
                  f"per token, aggregate {level.aggregate_output_tokens_per_s:,.0f} tokens/s, "
                  f"client {level.client_busy_cores:.2f} cores, server {server_busy:.2f} cores")
            if concurrency == 1:
                per_token_s = level.client_cpu_s_per_token
                max_single = level.aggregate_output_tokens_per_s
        print(f"client CPU per streamed token: {per_token_s * 1e6:.0f} µs "
              f"(one client can take in at most ~{1 / per_token_s:,.0f} tokens/s on one core)")
        print(f"single stream, no server delay: {max_single:,.0f} tokens/s")

        # 2. Paced streams: at which concurrency does the client stop keeping up?
        rate = args.stream_tokens_per_s
        interval_s = 1.0 / rate
        pace_tokens = int(rate * (1.0 if args.quick else 2.0))  # each request lasts 1-2 s
        levels = (1, 4, 16, 64, 128) if args.quick else (1, 2, 4, 8, 16, 32, 64, 128, 256)
        print(f"paced streams at {rate:.0f} tokens/s each, {pace_tokens} tokens per request:")
        sustained = None
        for concurrency in levels:
            level, server_busy = _level(url, proc.pid, concurrency, concurrency * 2, pace_tokens, interval_s)
            ideal = concurrency * rate
            ratio = level.aggregate_output_tokens_per_s / ideal
            per_stream = level.output_tokens_per_s_per_stream.p50 or 0.0
            print(f"  concurrency {concurrency:>3}: aggregate {level.aggregate_output_tokens_per_s:>8,.0f} tokens/s "
                  f"({ratio:.0%} of ideal), per-stream p50 {per_stream:.1f} tokens/s, "
                  f"ITL p90 {level.inter_token_s.p90 * 1000:.1f} ms, client {level.client_busy_cores:.2f} cores, "
                  f"server {server_busy:.2f} cores, errors {level.errors}")
            # "Sustained": near-ideal throughput (the closed loop's ramp costs a few %)
            # and the per-stream rate the server paces still measured correctly.
            if ratio >= 0.85 and per_stream >= 0.9 * rate and level.errors == 0 and not level.client_saturated:
                sustained = concurrency
            else:
                limiter = ("client" if level.client_busy_cores >= 0.8 or level.client_busy_cores > server_busy
                           else "server")
                print(f"  → stops scaling at concurrency {concurrency} (limited by the {limiter})")
                break
        if sustained is None:
            print("highest concurrency sustained: none of the levels scaled")
        else:
            print(f"highest concurrency sustained before the client became the bottleneck: {sustained} "
                  f"streams at {rate:.0f} tokens/s each (~{sustained * rate:,.0f} tokens/s aggregate)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
