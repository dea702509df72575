"""The fit is reproducible and the shipped factors are the fit's output."""

import pytest

from planner.catalog.loading import load_catalog
from planner.estimate.backtest import source_family, usable_rows
from planner.estimate.fit import fit_efficiencies


def test_same_data_gives_the_same_factors():
    catalog = load_catalog()
    rows = usable_rows(catalog)
    first = fit_efficiencies(catalog, rows)
    second = fit_efficiencies(catalog, list(reversed(rows)))
    key = lambda f: (f.factor, f.engine, f.hardware_family)  # noqa: E731
    assert [(key(f), f.value) for f in sorted(first, key=key)] == [(key(f), f.value) for f in sorted(second, key=key)]


def test_shipped_efficiency_file_matches_a_fresh_fit():
    catalog = load_catalog()
    fresh = {(f.factor, f.engine, f.hardware_family): f.value for f in fit_efficiencies(catalog)}
    shipped = {(f.factor, f.engine, f.hardware_family): f.value for f in catalog.efficiency}
    assert fresh == shipped, "run bench/calibrate.py after changing data/benchmarks.csv"


def test_efficiencies_stay_under_the_roofline():
    for f in load_catalog().efficiency:
        if f.factor in {"decode_overhead_s", "request_overhead_s"}:  # fixed times (seconds), not fractions
            assert 0 <= f.value < 1
        elif f.factor == "vllm_non_torch_gib":  # GiB a GPU, at most the smallest card's worth
            assert 0 <= f.value <= 4
        elif f.factor == "vllm_sampler_copies":  # FP32 copies of the logits the sampler holds at once
            assert 0 <= f.value <= 16
        elif f.factor != "effective_tflops":
            assert 0 < f.value <= 1


def test_benchmarks_come_from_at_least_four_independent_sources():
    catalog = load_catalog()
    assert len(catalog.benchmarks) >= 80
    assert len({source_family(r.source) for r in catalog.benchmarks}) >= 4


def test_shipped_accuracy_bands_match_a_fresh_leave_one_source_out_run():
    from planner.estimate.backtest import accuracy_bands
    from planner.estimate.fit import leave_one_source_out

    catalog = load_catalog()
    fresh = {b.metric: (b.ratio_p10, b.ratio_p90) for b in accuracy_bands(leave_one_source_out(catalog))}
    shipped = {b.metric: (b.ratio_p10, b.ratio_p90) for b in catalog.accuracy}
    assert fresh == shipped, "run bench/calibrate.py after changing data/benchmarks.csv"
    assert catalog.band("decode_tokens_per_s") is not None


def test_every_speed_figure_in_a_plan_carries_a_band():
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    plan = recommend(Constraints(), load_catalog())
    for cand in [plan.recommendation, *plan.alternatives]:
        for metric in ("decode_tokens_per_s", "ttft_s", "throughput_tokens_per_s"):
            low, high = cand.speed.ranges[metric]
            assert low <= high and low > 0
        assert cand.speed.ranges["decode_tokens_per_s"][1] <= cand.speed.decode_roofline_tokens_per_s * (1 + 1e-9)


def test_closed_loop_throughput_counts_each_prefill_and_shares_the_steps():
    from planner.estimate.speed import closed_loop_tokens_per_s

    # 4 requests of 100 output tokens: 4 prefills of 0.5 s, then 100 steps of 0.02 s shared by all 4.
    assert closed_loop_tokens_per_s(4, 100, 0.5, 0.02) == 4 * 100 / (4 * 0.5 + 100 * 0.02)
    # With no prefill it is the batched decode rate; with one user, one stream's end-to-end rate.
    assert closed_loop_tokens_per_s(8, 100, 0.0, 0.02) == 8 / 0.02
    assert closed_loop_tokens_per_s(1, 100, 1.0, 0.01) == 100 / 2.0


def test_a_run_with_more_users_than_the_kv_cache_holds_decodes_only_what_fits():
    from planner.estimate.backtest import running_batch
    from planner.estimate.kv_capacity import sequences_that_fit

    catalog = load_catalog()
    nim = next(r for r in catalog.benchmarks if r.id == "b076")  # 250 users of 5,000 + 500 tokens, 70B on 2 x H100
    model, quant, gpu, engine = catalog.model(nim.model), catalog.quants[nim.quant], catalog.gpus[nim.gpu], catalog.engines[nim.engine]
    fit = sequences_that_fit(model, quant, gpu, engine, nim.gpus, nim.input_tokens + nim.output_tokens)
    # TensorRT-LLM's accounting: 0.9 x (79.2 GiB visible - half of 70.6 GB of FP8 weights - 3 GiB of runtime buffers),
    # over 5,500 tokens x 320 KiB, the KV heads split over the two GPUs
    assert 30 < fit < 60
    # The row's KV cache is FP8, which holds twice the sequences ...
    assert nim.kv_cache_dtype == "fp8"
    assert running_batch(catalog, nim) in (2 * fit, 2 * fit + 1) and running_batch(catalog, nim) < nim.concurrency
    # ... and that is what the page's own figures say was decoding: ITL x throughput = 0.0932 s x 920 tok/s = 86.
    assert abs(running_batch(catalog, nim) / (0.0932 * nim.value) - 1) < 0.1


def test_the_kv_cache_precision_of_a_row_changes_its_prediction():
    from planner.estimate.backtest import predict

    catalog = load_catalog()
    row = next(r for r in catalog.benchmarks if r.id == "b001")  # TensorRT-LLM, batch 768, FP8 KV cache
    assert row.kv_cache_dtype == "fp8"
    as_fp16 = row.model_copy(update={"kv_cache_dtype": None})
    assert predict(catalog, row) > predict(catalog, as_fp16)


def test_prefill_is_fitted_from_times_to_first_token_where_compute_binds():
    from planner.estimate.prefill_fit import ttft_prefill_ratio as _ttft_prefill_ratio

    catalog = load_catalog()
    by_id = {r.id: r for r in catalog.benchmarks}
    long_prompt, short_prompt = by_id["b017"], by_id["b016"]  # Llama 2 7B FP8 on H100: 2,048 and 128 tokens
    ratio = _ttft_prefill_ratio(catalog, long_prompt)
    assert ratio is not None and 0.2 < ratio <= 1
    assert _ttft_prefill_ratio(catalog, short_prompt) is None  # reading the weights dominates 128 tokens
    factors = {(f.factor, f.engine, f.hardware_family) for f in catalog.efficiency}
    assert ("prefill_compute", "tensorrt-llm", "nvidia-datacenter") in factors


def test_prompts_in_flight_together_share_one_weight_read():
    from planner.estimate.speed import prefill_s

    # 100 tokens x 1 GFLOP at 100 TFLOP/s = 1 ms of compute; reading 10 GB at 1 TB/s = 10 ms.
    alone = prefill_s(100, 1e9, 100e12, 1.0, 10e9, 1e12, 1.0)
    assert alone == 10e-3  # one prompt alone still reads every weight once
    assert prefill_s(100, 1e9, 100e12, 1.0, 10e9, 1e12, 1.0, requests=5) == 2e-3  # five share the read
    assert prefill_s(100, 1e9, 100e12, 1.0, 10e9, 1e12, 1.0, requests=50) == 1e-3  # then compute binds


def test_runs_of_a_few_output_tokens_are_kept_but_not_predicted():
    from planner.estimate.backtest import predict

    catalog = load_catalog()
    row = next(r for r in catalog.benchmarks if r.id == "b431")  # 1,000 requests of 128 in / 4 out
    assert row.output_tokens == 4 and row in usable_rows(catalog)
    assert predict(catalog, row) is None  # it measures the API server's time per request, not the GPU


def test_batch_compute_counts_rows_whose_memory_time_already_explains_them():
    catalog = load_catalog()
    factor = next(f for f in fit_efficiencies(catalog) if (f.factor, f.engine, f.hardware_family) == ("batch_compute", "tensorrt-llm", "*"))
    # TensorRT-LLM's batch of 768 on Llama 2 7B runs at its memory time: that row must pull the factor
    # up (compute costing little), not be skipped.
    assert "b001" in factor.source.split("rows ")[1].split(";")
    assert factor.n_rows >= 20


def test_prefill_is_fitted_from_throughput_runs_that_are_mostly_prefill():
    from planner.estimate.prefill_fit import throughput_prefill_ratio as _throughput_prefill_ratio

    catalog = load_catalog()
    by_id = {r.id: r for r in catalog.benchmarks}
    ratio = _throughput_prefill_ratio(catalog, by_id["b429"])  # 500 requests of 3,996 in / 200 out
    assert ratio is not None and 0 < ratio <= 1
    assert _throughput_prefill_ratio(catalog, by_id["b330"]) is None  # 128 in / 2,048 out: mostly decode


def test_a_group_gets_its_own_factor_only_from_two_independent_sources():
    catalog = load_catalog()
    sources = {r.id: source_family(r.source) for r in catalog.benchmarks}
    checked = 0
    for f in fit_efficiencies(catalog):
        if f.factor == "effective_tflops" or (f.engine, f.hardware_family) == ("*", "*"):
            continue
        ids = f.source.split("rows ")[1].split(";")
        assert len({sources[i] for i in ids}) >= 2, (f.factor, f.engine, f.hardware_family)
        checked += 1
    assert checked > 10
    # llama.cpp's ten datacenter decode rows all come from one pull request: they share the family's fit
    assert not any((f.factor, f.engine, f.hardware_family) == ("decode_bandwidth", "llama.cpp", "nvidia-datacenter")
                   for f in fit_efficiencies(catalog))


def test_vllm_runs_at_most_its_default_number_of_sequences_for_the_device():
    from planner.estimate.backtest import running_batch
    from planner.estimate.speed import max_running_sequences

    catalog = load_catalog()
    gpus = catalog.gpus
    # vllm/engine/arg_utils.py: 1,024 on GPUs of 70 GiB or more that are not A100s, else 256
    assert max_running_sequences("vllm", gpus["h100-sxm"]) == 1024
    assert max_running_sequences("vllm", gpus["a100-80gb"]) == 256
    assert max_running_sequences("vllm", gpus["l40s"]) == 256
    assert max_running_sequences("tensorrt-llm", gpus["h100-sxm"]) is None
    row = next(r for r in catalog.benchmarks if r.id == "b414")  # 1,000 prompts at once, gpt-oss-20b, vLLM on one A100
    assert row.concurrency == 1000 and running_batch(catalog, row) == 256


def test_a_drain_of_varied_lengths_is_kept_but_not_predicted():
    from planner.estimate.backtest import predict

    catalog = load_catalog()
    by_id = {r.id: r for r in catalog.benchmarks}
    drain = by_id["b317"]  # 1,000 ShareGPT prompts sent at once: gpt-oss-20b, vLLM, H100
    assert drain.lengths == "varied" and drain.requests == drain.concurrency == 1000
    assert predict(catalog, drain) is None
    steady = by_id["b300"]  # 100 ShareGPT prompts kept at 4 in flight: a steady state the means describe
    assert steady.lengths == "varied" and steady.requests > steady.concurrency
    assert predict(catalog, steady) is not None
    fixed = by_id["b429"]  # 500 prompts of fixed random lengths sent at once: waves of equal requests
    assert fixed.lengths is None and predict(catalog, fixed) is not None


def test_a_mixture_of_experts_runs_at_its_engines_fitted_share_of_the_speed():
    import dataclasses

    from planner.catalog.records import EfficiencyFactor
    from planner.estimate.speed import estimate_speed

    catalog = load_catalog()
    factors = fit_efficiencies(catalog)
    moe = [f for f in factors if f.factor == "moe_kernels"]
    assert moe and all(0 < f.value <= 1 and f.engine != "*" for f in moe)  # per engine only; never past the roofline
    assert not any(f.engine == "llama.cpp" for f in moe)  # llama.cpp's own decode fit already holds its MoE rows

    def speeds(value):
        extra = EfficiencyFactor(factor="moe_kernels", engine="vllm", hardware_family="nvidia-datacenter", value=value, n_rows=3,
                                 source="test", as_of="2026-11-25")
        c = dataclasses.replace(catalog, efficiency=tuple(f for f in catalog.efficiency if f.factor != "moe_kernels") + (extra,))
        gpu, engine = c.gpus["h100-sxm"], c.engines["vllm"]
        mixture = estimate_speed(c, c.model("openai/gpt-oss-20b"), c.quants["mxfp4"], gpu, engine, 1, 1000, 300, 16)
        dense = estimate_speed(c, c.model("Qwen/Qwen3-8B"), c.quants["bf16"], gpu, engine, 1, 1000, 300, 16)
        return mixture, dense

    (moe_full, dense_full), (moe_half, dense_half) = speeds(1.0), speeds(0.5)
    # expert kernels are slower per byte and per FLOP: the step's reads and compute take twice as long,
    # the engine's fixed time per step (sampling, scheduling) does not change
    fixed = moe_full.efficiency["decode_overhead_s"]
    assert 1 / moe_half.decode_tokens_per_s - fixed == pytest.approx(2 * (1 / moe_full.decode_tokens_per_s - fixed))
    assert moe_half.prefill_tokens_per_s == pytest.approx(moe_full.prefill_tokens_per_s / 2)
    assert dense_half.decode_tokens_per_s == dense_full.decode_tokens_per_s  # dense models are untouched


def test_tensor_parallel_scaling_is_fitted_on_dense_models_only():
    catalog = load_catalog()
    factor = next(f for f in fit_efficiencies(catalog) if f.factor == "tensor_parallel")
    ids = factor.source.split("rows ")[1].split(";")
    models = {catalog.model(r.model) for r in catalog.benchmarks if r.id in ids}
    assert models and all((m.experts_total or 1) <= (m.experts_active or 1) for m in models)
    # the mixtures' own multi-GPU decode rows (SGLang on 8x B200) exist, and are left to moe_kernels
    assert any(r.metric == "decode_tokens_per_s" and r.gpus > 1 and (catalog.model(r.model).experts_total or 1) > 1
               for r in catalog.benchmarks)


def test_runs_that_split_gpus_otherwise_than_tensor_parallel_are_kept_but_not_predicted():
    from planner.estimate.backtest import (
        OTHER_LAYOUT,
        not_predicted_reason,
        predict,
    )

    catalog = load_catalog()
    row = next(r for r in catalog.benchmarks if r.id == "b516")  # SGLang --enable-dp-attention on 8x H200
    assert row.parallel == "dp-attention" and row in usable_rows(catalog)
    assert not_predicted_reason(row) == OTHER_LAYOUT and predict(catalog, row) is None


def test_dense_models_set_the_batch_factor_so_an_engine_s_moe_runs_do_not_slow_its_dense_estimates():
    from planner.estimate.speed import estimate_speed

    catalog = load_catalog()
    sources = {r.id: r for r in catalog.benchmarks}
    for f in fit_efficiencies(catalog):
        if f.factor == "batch_compute":
            ids = f.source.split("rows ")[1].split(";")
            assert not any((catalog.model(sources[i].model).experts_total or 1) > 1 for i in ids), (f.engine, f.hardware_family)
    # SGLang's dense estimate on an H100 is not dragged below vLLM's by its mixture-of-experts runs
    model, quant, gpu = catalog.model("Qwen/Qwen3-8B"), catalog.quants["bf16"], catalog.gpus["h100-sxm"]
    speeds = {e: estimate_speed(catalog, model, quant, gpu, catalog.engines[e], 1, 1000, 300, 64).decode_throughput_tokens_per_s
              for e in ("vllm", "sglang")}
    assert speeds["sglang"] >= 0.8 * speeds["vllm"]


def test_a_plan_says_when_its_mixture_of_experts_runs_slower_than_the_dense_fit():
    from pathlib import Path

    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    example = Path(__file__).resolve().parent.parent / "examples" / "private-code-assistant.json"
    plan = recommend(Constraints.model_validate_json(example.read_text(encoding="utf-8")))
    catalog = load_catalog()
    candidates = [plan.recommendation, *plan.alternatives]
    mixtures = [c for c in candidates if (catalog.model(c.model).experts_total or 1) > 1]
    shares = {c.speed.efficiency["moe_kernels"] < 1 for c in mixtures}
    assert shares == {True, False}  # mixtures on an engine with a fitted share (vLLM) and without one (llama.cpp)
    for cand in candidates:
        share = cand.speed.efficiency["moe_kernels"]
        lines = [b for b in cand.basis if b.startswith("Mixture of experts")]
        assert (cand in mixtures and share < 1) == bool(lines), (cand.model, cand.engine, share)
        if lines:
            assert f"{share:.0%}" in lines[0] and "fitted to" in lines[0]


def test_a_run_that_sends_every_request_at_once_is_a_closed_loop_of_all_of_them():
    """A row with request_rate inf and no concurrency (trtllm-bench and vLLM's offline benchmark_throughput queue
    every prompt at once) keeps all of its requests in flight: the engine runs as many as it holds. Fixed lengths
    make that a run of equal waves and it is predicted; varied lengths make it a drain and it is not."""
    from planner.estimate.backtest import VARIED_DRAIN, clients, not_predicted_reason, predict, running_batch

    catalog = load_catalog()
    base = {r.id: r for r in catalog.benchmarks}["b429"]  # vLLM, fixed lengths, a stated concurrency
    offline = base.model_copy(update={"concurrency": None, "request_rate": float("inf"), "requests": 3000})
    assert clients(offline) == 3000 and not_predicted_reason(offline) is None and predict(catalog, offline) > 0
    assert running_batch(catalog, offline) <= 1024  # capped by the KV cache and vLLM's sequence limit, not 3000
    assert not_predicted_reason(offline.model_copy(update={"lengths": "varied"})) == VARIED_DRAIN
    assert clients(base.model_copy(update={"concurrency": None, "request_rate": 4.0})) is None  # an open loop has no clients


def test_runs_that_cross_pcie_fit_the_pcie_share_and_nothing_else(tmp_path):
    """Speed rows whose tensor-parallel all-reduces cross PCIe set pcie_allreduce_share alone (else their slow
    all-reduces would pass for slow prefill, batches or expert kernels). With the shipped rows (TensorRT-LLM on
    4-8 L40S, vLLM on 4 RTX PRO 6000) and the A10G rows still pending (data/pending/benchmarks_pcie_round.csv: vLLM
    and TGI on 4-8 A10Gs) the share comes out well under the link's datasheet figure, from several sources, and every other
    factor is the one the same data gives without those rows. The A10Gs, without peer-to-peer, are a class of
    their own (host_allreduce_share): their all-reduces do not set the share of boxes with peer-to-peer, and one
    source of predictable runs on them is too few to fit theirs."""
    import shutil

    from planner.estimate.backtest import SPEED_METRICS
    from planner.estimate.fit_comm import crosses_pcie
    from planner.catalog.loading import DATA_DIR

    shutil.copytree(DATA_DIR, tmp_path / "data")
    pending = (DATA_DIR / "pending" / "benchmarks_pcie_round.csv").read_text().splitlines()[1:]
    with open(tmp_path / "data" / "benchmarks.csv", "a") as f:
        f.write("\n".join(pending) + "\n")
    catalog = load_catalog(tmp_path / "data")
    rows = usable_rows(catalog)
    over_pcie = [r for r in rows if r.metric in SPEED_METRICS and crosses_pcie(catalog, r)]
    assert len({source_family(r.source) for r in over_pcie}) >= 3
    fitted = fit_efficiencies(catalog, rows)
    share = next(f for f in fitted if f.factor == "pcie_allreduce_share")
    assert 0.2 < share.value < 0.8 and share.n_rows >= 30
    assert not any(r.gpu == "a10g" for r in rows if r.id in share.source.split("rows ")[1].split(";"))
    assert not any(f.factor == "host_allreduce_share" for f in fitted)  # the A10G runs that predict: philschmid's only
    pcie_ids = {r.id for r in over_pcie}
    without = fit_efficiencies(catalog, [r for r in rows if r.id not in pcie_ids])
    others = {(f.factor, f.engine, f.hardware_family): f.value for f in fitted if f.factor not in {"pcie_allreduce_share", "host_allreduce_share"}}
    assert others == {(f.factor, f.engine, f.hardware_family): f.value for f in without}
    assert not any(f.factor == "pcie_allreduce_share" for f in without)


def test_an_engines_cost_per_request_needs_three_sources_to_outvote_one():
    """vLLM's runs of one client come from several sources (GPUStack, sariekr, pegainfer's reference runs, Vultr): its
    cost per request is the median of their medians. Left with two - Vultr's and sariekr's - their median would be
    their mean, and Vultr's 0.35 s residual (its Nemotron prefill) would set every vLLM request's cost, so vLLM then
    keeps to the median over every engine's sources."""
    import dataclasses
    import statistics

    from planner.estimate.backtest import predict, usable_rows
    from planner.estimate.fit import fit_efficiencies
    from planner.estimate.fit_serving import request_overhead_fit

    catalog = load_catalog()
    fitted = dataclasses.replace(catalog, efficiency=tuple(fitted for fitted in fit_efficiencies(catalog, usable_rows(catalog))
                                                           if fitted.factor != "request_overhead_s"))
    lone = [r for r in usable_rows(catalog) if r.metric == "ttft_s" and r.request_rate is None and (r.concurrency or 0) <= 1
            and r.args.server is not False and catalog.gpus[r.gpu].fp16_tflops_dense and predict(fitted, r) is not None]
    by_source: dict[str, list[float]] = {}
    for r in lone:
        by_source.setdefault(source_family(r.source), []).append(r.value - predict(fitted, r))
    vllm_sources = {source_family(r.source) for r in lone if r.engine == "vllm"}
    assert len(vllm_sources) >= 3 and {"docs.vultr.com", "github.com/sariekr"} <= vllm_sources
    every = {(f.engine, f.hardware_family): f.value for f in request_overhead_fit(fitted, lone, "2026-12-08")}
    vllm = statistics.median(statistics.median(by_source[s]) for s in vllm_sources)  # each source's own median
    assert every[("vllm", "*")] == pytest.approx(max(vllm, 0.0), abs=1e-5)

    two = {"docs.vultr.com", "github.com/sariekr"}
    dropped = vllm_sources - two
    without = [r for r in lone if source_family(r.source) not in dropped]
    held = {(f.engine, f.hardware_family): f.value for f in request_overhead_fit(fitted, without, "2026-12-08")}
    assert ("vllm", "*") not in held
    pooled = statistics.median(statistics.median(v) for s, v in by_source.items() if s not in dropped)
    assert held[("*", "*")] == pytest.approx(pooled, abs=1e-5)
    assert held[("*", "*")] < 0.1 < statistics.mean(statistics.median(by_source[s]) for s in two)
