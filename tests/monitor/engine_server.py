"""A test server that publishes metrics in a serving engine's or GPU exporter's exposition format.

Names, types and label sets are those of each source, as listed in planner/monitor/metric_names.py and
read from the engines' code:
- vLLM V1: vllm/v1/metrics/loggers.py (v0.11.0): labels model_name and engine (the engine index);
  request_success_total adds finished_reason; TTFT buckets 0.001…2560 and ITL buckets 0.01…80 as there.
  `vllm_version="0.10"` publishes the names before the V1 renames (time_per_output_token_seconds,
  gpu_cache_usage_perc).
- SGLang: python/sglang/srt/metrics/collector.py: label model_name; gauges num_running_reqs,
  num_queue_reqs, token_usage; counters prompt/generation tokens and num_requests_total.
- TensorRT-LLM: tensorrt_llm/metrics/collector.py: labels model_name and engine_type; served at
  /prometheus/metrics.
- llama.cpp: tools/server (README, GET /metrics): unlabelled llamacpp:* counters and gauges, no histograms.
- NVIDIA DCGM exporter: etc/default-counters.csv: DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_FB_USED/FREE (MiB),
  labels gpu, UUID, device, modelName, Hostname.
Each GET renders the current state; `on_scrape` (if set) then changes it, for tests that need the
window to contain a known batch of observations whatever the number of scrapes.
"""

from __future__ import annotations

import bisect
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VLLM_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0,
                     40.0, 80.0, 160.0, 640.0, 2560.0)
VLLM_ITL_BUCKETS = (0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0)
# SGLang's ITL buckets begin 0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020 (collector.py); the tail is abbreviated here.
SGLANG_ITL_BUCKETS = (0.002, 0.004, 0.006, 0.008, 0.010, 0.015, 0.020, 0.05, 0.1, 0.5, 1.0, 5.0)
SGLANG_TTFT_BUCKETS = (0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 2.0, 4.0, 6.0, 8.0, 10.0, 20.0, 40.0, 60.0)


class Histogram:
    def __init__(self, bounds: tuple[float, ...]):
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # per bucket, the last one +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1
        self.sum += value
        self.count += 1

    def lines(self, name: str, labels: str) -> list[str]:
        sep = "," if labels else ""
        out, running = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            running += n
            le = "+Inf" if bound == float("inf") else repr(float(bound))
            out.append(f'{name}_bucket{{{labels}{sep}le="{le}"}} {running}')
        braces = f"{{{labels}}}" if labels else ""
        out += [f"{name}_sum{braces} {self.sum!r}", f"{name}_count{braces} {self.count}"]
        return out


class EngineMetrics:
    """The state of one replica (or one GPU exporter) and its exposition text."""

    def __init__(self, engine: str, *, model: str = "tiny", vllm_version: str = "0.11", engine_index: int = 0):
        self.engine = engine
        self.vllm_version = vllm_version
        self.lock = threading.Lock()
        sglang = engine == "sglang"
        self.ttft = Histogram(SGLANG_TTFT_BUCKETS if sglang else VLLM_TTFT_BUCKETS)
        self.itl = Histogram(SGLANG_ITL_BUCKETS if sglang else VLLM_ITL_BUCKETS)
        self.finished = {"stop": 0, "length": 0, "abort": 0}
        self.prompt_tokens = 0
        self.output_tokens = 0
        self.running = 0
        self.waiting = 0
        self.kv_usage = 0.0
        self.gpu_util = [0.0]
        self.fb_used_mib = [0.0]
        self.fb_free_mib = [81_559.0]
        self.labels = {"vllm": f'model_name="{model}",engine="{engine_index}"', "sglang": f'model_name="{model}"',
                       "tensorrt-llm": f'model_name="{model}",engine_type="trtllm"'}.get(engine, "")

    def request(self, ttft_s: float, itl_s: list[float], prompt_tokens: int, reason: str = "stop") -> None:
        """One finished request: its TTFT, each gap between its output tokens, and its token counts."""
        with self.lock:
            self.ttft.observe(ttft_s)
            for gap in itl_s:
                self.itl.observe(gap)
            self.finished[reason] += 1
            self.prompt_tokens += prompt_tokens
            self.output_tokens += len(itl_s) + 1

    def render(self) -> str:
        with self.lock:
            return "\n".join(getattr(self, f"_{self.engine.replace('.', '_').replace('-', '_')}")()) + "\n"

    def _typed(self, name: str, kind: str, values: list[str]) -> list[str]:
        return [f"# HELP {name} test server", f"# TYPE {name} {kind}", *values]

    def _series(self, name: str, value: float, labels: str | None = None) -> str:
        labels = self.labels if labels is None else labels
        return f"{name}{{{labels}}} {value!r}" if labels else f"{name} {value!r}"

    def _vllm(self) -> list[str]:
        new = tuple(map(int, self.vllm_version.split("."))) >= (0, 11)
        itl = "vllm:inter_token_latency_seconds" if new else "vllm:time_per_output_token_seconds"
        kv = "vllm:kv_cache_usage_perc" if new else "vllm:gpu_cache_usage_perc"
        success = [self._series("vllm:request_success_total", float(n), f'{self.labels},finished_reason="{r}"')
                   for r, n in self.finished.items()]
        return [*self._typed("vllm:num_requests_running", "gauge", [self._series("vllm:num_requests_running", float(self.running))]),
                *self._typed("vllm:num_requests_waiting", "gauge", [self._series("vllm:num_requests_waiting", float(self.waiting))]),
                *self._typed(kv, "gauge", [self._series(kv, self.kv_usage)]),
                *self._typed("vllm:prompt_tokens_total", "counter", [self._series("vllm:prompt_tokens_total", float(self.prompt_tokens))]),
                *self._typed("vllm:generation_tokens_total", "counter",
                             [self._series("vllm:generation_tokens_total", float(self.output_tokens))]),
                *self._typed("vllm:request_success_total", "counter", success),
                *self._typed("vllm:time_to_first_token_seconds", "histogram",
                             self.ttft.lines("vllm:time_to_first_token_seconds", self.labels)),
                *self._typed(itl, "histogram", self.itl.lines(itl, self.labels))]

    def _sglang(self) -> list[str]:
        return [*self._typed("sglang:num_running_reqs", "gauge", [self._series("sglang:num_running_reqs", float(self.running))]),
                *self._typed("sglang:num_queue_reqs", "gauge", [self._series("sglang:num_queue_reqs", float(self.waiting))]),
                *self._typed("sglang:token_usage", "gauge", [self._series("sglang:token_usage", self.kv_usage)]),
                *self._typed("sglang:prompt_tokens_total", "counter", [self._series("sglang:prompt_tokens_total", float(self.prompt_tokens))]),
                *self._typed("sglang:generation_tokens_total", "counter",
                             [self._series("sglang:generation_tokens_total", float(self.output_tokens))]),
                *self._typed("sglang:num_requests_total", "counter",
                             [self._series("sglang:num_requests_total", float(sum(self.finished.values())))]),
                *self._typed("sglang:time_to_first_token_seconds", "histogram",
                             self.ttft.lines("sglang:time_to_first_token_seconds", self.labels)),
                *self._typed("sglang:inter_token_latency_seconds", "histogram",
                             self.itl.lines("sglang:inter_token_latency_seconds", self.labels))]

    def _tensorrt_llm(self) -> list[str]:
        success = [self._series("trtllm_request_success_total", float(n), f'{self.labels},finished_reason="{r}"')
                   for r, n in self.finished.items()]
        return [*self._typed("trtllm_request_success_total", "counter", success),
                *self._typed("trtllm_kv_cache_utilization", "gauge", [self._series("trtllm_kv_cache_utilization", self.kv_usage)]),
                *self._typed("trtllm_time_to_first_token_seconds", "histogram",
                             self.ttft.lines("trtllm_time_to_first_token_seconds", self.labels)),
                *self._typed("trtllm_time_per_output_token_seconds", "histogram",
                             self.itl.lines("trtllm_time_per_output_token_seconds", self.labels))]

    def _llama_cpp(self) -> list[str]:
        return [*self._typed("llamacpp:prompt_tokens_total", "counter", [self._series("llamacpp:prompt_tokens_total", float(self.prompt_tokens))]),
                *self._typed("llamacpp:tokens_predicted_total", "counter",
                             [self._series("llamacpp:tokens_predicted_total", float(self.output_tokens))]),
                *self._typed("llamacpp:requests_processing", "gauge", [self._series("llamacpp:requests_processing", float(self.running))]),
                *self._typed("llamacpp:requests_deferred", "gauge", [self._series("llamacpp:requests_deferred", float(self.waiting))])]

    def _dcgm(self) -> list[str]:
        def labels(i: int) -> str:
            return (f'gpu="{i}",UUID="GPU-0000000{i}-test",device="nvidia{i}",modelName="NVIDIA H100 80GB HBM3",'
                    f'Hostname="test-host"')
        return [*self._typed("DCGM_FI_DEV_GPU_UTIL", "gauge", [self._series("DCGM_FI_DEV_GPU_UTIL", v, labels(i))
                                                               for i, v in enumerate(self.gpu_util)]),
                *self._typed("DCGM_FI_DEV_FB_USED", "gauge", [self._series("DCGM_FI_DEV_FB_USED", v, labels(i))
                                                              for i, v in enumerate(self.fb_used_mib)]),
                *self._typed("DCGM_FI_DEV_FB_FREE", "gauge", [self._series("DCGM_FI_DEV_FB_FREE", v, labels(i))
                                                              for i, v in enumerate(self.fb_free_mib)])]


def _amd_smi_lines(metrics: EngineMetrics) -> list[str]:
    """AMD device-metrics-exporter (docs/configuration/metricslist.md): gpu_gfx_activity (%), gpu_used_vram and
    gpu_total_vram (MB), labelled gpu_id, serial_number, card_model, hostname."""
    def labels(i: int) -> str:
        return f'gpu_id="{i}",serial_number="TEST{i}",card_model="AMD Instinct MI300X",hostname="test-host"'
    used = metrics.fb_used_mib  # here in MB, as the exporter reports
    total = [u + f for u, f in zip(metrics.fb_used_mib, metrics.fb_free_mib, strict=True)]
    return [*metrics._typed("gpu_gfx_activity", "gauge", [metrics._series("gpu_gfx_activity", v, labels(i))
                                                           for i, v in enumerate(metrics.gpu_util)]),
            *metrics._typed("gpu_used_vram", "gauge", [metrics._series("gpu_used_vram", v, labels(i)) for i, v in enumerate(used)]),
            *metrics._typed("gpu_total_vram", "gauge", [metrics._series("gpu_total_vram", v, labels(i))
                                                        for i, v in enumerate(total)])]


EngineMetrics._amd_smi = _amd_smi_lines


class MetricsServer:
    """Serves one EngineMetrics on a loopback port at /metrics (and /prometheus/metrics, trtllm-serve's path)."""

    def __init__(self, metrics: EngineMetrics):
        self.metrics = metrics
        self.on_scrape = None
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the http.server API
                if self.path not in ("/metrics", "/prometheus/metrics"):
                    self.send_error(404)
                    return
                body = owner.metrics.render().encode()
                if owner.on_scrape:
                    owner.on_scrape(owner.metrics)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}/metrics"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
