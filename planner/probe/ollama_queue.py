"""Ollama's parallel slots and queue as a queueing model, for the probe report and the planner.

Ollama serves each loaded model with OLLAMA_NUM_PARALLEL slots; requests beyond them wait in a
queue of at most OLLAMA_MAX_QUEUE, and one arriving to a full queue is refused with HTTP 503
("server busy"). Defaults, from ollama/ollama `envconfig/config.go` (github.com/ollama/ollama/blob/
main/envconfig/config.go) and its FAQ (docs.ollama.com/faq, "How does Ollama handle concurrent
requests?"): OLLAMA_MAX_QUEUE 512; OLLAMA_NUM_PARALLEL 1 in current releases (`Uint(
"OLLAMA_NUM_PARALLEL", 1)`), where releases of mid-2024 (0.2 to 0.3) defaulted to 0, meaning "4 or
1 by available memory". As of 2026-12 (read from the sources above).

`slot_queue` is the M/M/c/K queue of that: c = num_parallel servers, K = c + max_queue places,
Poisson arrivals and exponential service times (a deliberate simplification: decode times of
similar requests vary less than exponentially, so real waits are somewhat shorter).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OLLAMA_NUM_PARALLEL_DEFAULT = 1
OLLAMA_MAX_QUEUE_DEFAULT = 512


@dataclass(frozen=True)
class SlotQueue:
    """Steady state of Ollama's slots. Times in seconds, rates in requests/s."""

    utilisation: float  # offered load per slot (λ ÷ cμ); above 1 the queue fills and requests are refused
    wait_probability: float  # an accepted request finds every slot busy
    mean_queue_wait_s: float  # mean wait for a slot of an accepted request
    reject_probability: float  # an arriving request finds the queue full (HTTP 503)
    served_requests_per_s: float  # arrivals less refusals


def slot_queue(arrival_rps: float, service_s: float, num_parallel: int = OLLAMA_NUM_PARALLEL_DEFAULT,
               max_queue: int = OLLAMA_MAX_QUEUE_DEFAULT) -> SlotQueue:
    """M/M/c/K for `num_parallel` slots, each holding one request for `service_s` on average
    (its prefill and decode at that parallelism), with `max_queue` places to wait."""
    if arrival_rps < 0 or service_s <= 0 or num_parallel < 1 or max_queue < 0:
        raise ValueError("need arrival_rps >= 0, service_s > 0, num_parallel >= 1, max_queue >= 0")
    c, k = num_parallel, num_parallel + max_queue
    a = arrival_rps * service_s  # offered load in slots (Erlangs)
    # Unnormalised state probabilities p_n, in logs so large K and load stay finite.
    logs = []
    for n in range(k + 1):
        if n <= c:
            logs.append(n * math.log(a) - math.lgamma(n + 1) if a > 0 else (0.0 if n == 0 else -math.inf))
        else:
            logs.append(logs[c] + (n - c) * (math.log(a / c) if a > 0 else -math.inf))
    top = max(logs)
    weights = [math.exp(v - top) for v in logs]
    total = sum(weights)
    p = [w / total for w in weights]
    reject = p[k]
    accepted = 1.0 - reject
    queue_length = sum((n - c) * p[n] for n in range(c + 1, k + 1))
    served = arrival_rps * accepted
    wait = queue_length / served if served > 0 else 0.0  # Little's law on the queue
    busy = sum(p[n] for n in range(c, k)) / accepted if accepted > 0 else 1.0
    return SlotQueue(utilisation=a / c, wait_probability=busy, mean_queue_wait_s=wait,
                     reject_probability=reject, served_requests_per_s=served)
