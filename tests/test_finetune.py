"""planner/finetune.py: hand-computed memory, parameter counts, time and cost; peft's own counts on
tiny random-weight models; the `finetune` CLI; the findings a plan gets; the Fine-tuning page."""

from __future__ import annotations

import argparse
import importlib.util
import json
import math
from pathlib import Path

import pytest

from planner.catalog.loading import load_catalog
from planner.catalog.records import ModelSpec
from planner.charts.finetune import memory_figure, methods_frame, services_frame
from planner.errors import ConstraintError, LookupFailed
from planner.finetune.data import load_finetune_data
from planner.finetune.memory import (
    activation_bytes,
    lora_trainable_params,
    qlora_base_bytes,
)
from planner.finetune.planner import min_gpus_for, plan_finetune, training_tflops
from planner.finetune.request import METHODS
from planner.finetune.section import finetune_findings, finetune_section
from planner.plan.constraints import Constraints, GpuCount
from planner.plan.workload import training_ask_from
from planner.units import GIB

ROOT = Path(__file__).resolve().parent.parent
LLAMA31_8B = "meta-llama/Llama-3.1-8B-Instruct"
LLAMA2_7B = "meta-llama/Llama-2-7b-chat-hf"
LLAMA31_70B = "meta-llama/Llama-3.1-70B-Instruct"
MIXTRAL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


@pytest.fixture(scope="module")
def data():
    return load_finetune_data()


# ---------------------------------------------------------------- trainable parameters, by hand

def test_lora_all_linear_llama31_8b_by_hand(catalog):
    # Llama 3.1 8B: h 4096, 32 heads × 128, 8 KV heads × 128 = 1024, intermediate 14336, 32 layers. r = 16:
    #   q 16·(4096+4096) = 131,072   k 16·(4096+1024) = 81,920   v 81,920   o 131,072
    #   gate, up, down 16·(4096+14336) = 294,912 each
    #   per layer 1,310,720; × 32 layers = 41,943,040 (what peft prints for this model and config)
    assert lora_trainable_params(catalog.model(LLAMA31_8B), 16, "all-linear") == 41_943_040


def test_lora_qv_llama2_7b_matches_litgpt_table(catalog):
    # r 8 on q and v: 32 layers × 2 × 8·(4096+4096) = 4,194,304, LitGPT's resource table's "trainable parameters".
    assert lora_trainable_params(catalog.model(LLAMA2_7B), 8, "qv") == 4_194_304
    assert lora_trainable_params(catalog.model(LLAMA2_7B), 8, ["v_proj", "q_proj"]) == 4_194_304


def test_lora_moe_counts_every_expert(catalog):
    # Mixtral 8x7B, r 8: attention 8·(4096+4096)·2 + 8·(4096+1024)·2 = 212,992 per layer;
    # experts 8 × 3 × 8·(4096+14336) = 3,538,944 per layer; (212,992 + 3,538,944) × 32 = 120,061,952.
    assert lora_trainable_params(catalog.model(MIXTRAL), 8, "all-linear") == 120_061_952
    assert lora_trainable_params(catalog.model(MIXTRAL), 8, "attention") == 212_992 * 32


def test_unknown_target_module_names_the_field(catalog):
    with pytest.raises(ConstraintError) as err:
        lora_trainable_params(catalog.model(LLAMA31_8B), 8, ["q_proj", "w9"])
    assert err.value.field == "target_modules" and "w9" in str(err.value)


# ---------------------------------------------------------------- memory, by hand

def test_full_finetune_memory_mixed_precision_and_zero_stages(catalog, data):
    model = catalog.model(LLAMA31_8B)
    p = 8.03e9
    single = plan_finetune(catalog, LLAMA31_8B, "full", gpu="h100-sxm")
    # ZeRO paper: 2 B bf16 weights + 2 B bf16 gradients + 12 B fp32 master/momentum/variance per parameter.
    assert single.memory.weights_gib == pytest.approx(2 * p / GIB)
    assert single.memory.gradients_gib == pytest.approx(2 * p / GIB)
    assert single.memory.optimizer_gib == pytest.approx(12 * p / GIB)
    assert single.memory.adapter_gib == 0
    assert single.trainable_params == 8_030_000_000
    assert not single.memory.fits  # 16 × 8.03e9 B = 119.6 GiB before activations, on an 80 GiB GPU
    stage1 = plan_finetune(catalog, LLAMA31_8B, "full", gpu="h100-sxm", gpus=8, zero_stage=1)
    stage2 = plan_finetune(catalog, LLAMA31_8B, "full", gpu="h100-sxm", gpus=8, zero_stage=2)
    stage3 = plan_finetune(catalog, LLAMA31_8B, "full", gpu="h100-sxm", gpus=8, zero_stage=3)
    assert stage1.memory.optimizer_gib == pytest.approx(12 * p / 8 / GIB)
    assert stage1.memory.gradients_gib == pytest.approx(2 * p / GIB)
    assert stage2.memory.gradients_gib == pytest.approx(2 * p / 8 / GIB)
    assert stage2.memory.weights_gib == pytest.approx(2 * p / GIB)
    assert stage3.memory.weights_gib == pytest.approx(2 * p / 8 / GIB)
    # Sharding never touches activations: each GPU runs its own micro-batch.
    assert stage3.memory.activations_gib == single.memory.activations_gib
    pure = plan_finetune(catalog, LLAMA31_8B, "full", gpu="h100-sxm", pure_bf16=True)
    assert pure.memory.optimizer_gib == pytest.approx(4 * p / GIB)  # two bf16 moments, no master copy
    assert model.params_total_b == 8.03


def test_lora_memory_parts(catalog, data):
    plan = plan_finetune(catalog, LLAMA31_8B, "lora", rank=16, gpu="h100-sxm", seq_len=2048)
    a = 41_943_040
    # Frozen bf16 base; fp32 adapter (4 B) + fp32 gradient (4 B) + two fp32 Adam moments (8 B).
    assert plan.memory.weights_gib == pytest.approx(2 * 8.03e9 / GIB)
    assert plan.memory.adapter_gib == pytest.approx(4 * a / GIB)
    assert plan.memory.gradients_gib == pytest.approx(4 * a / GIB)
    assert plan.memory.optimizer_gib == pytest.approx(8 * a / GIB)
    # Logits: 2048 tokens × 128,256 vocabulary × the assumption's bytes per entry.
    per_entry = data.assumption("logits_bytes_per_vocab_entry")
    assert plan.memory.logits_gib == pytest.approx(2048 * 128_256 * per_entry / GIB)
    parts = ("weights_gib", "gradients_gib", "optimizer_gib", "adapter_gib", "activations_gib", "logits_gib", "overhead_gib")
    assert plan.memory.total_per_gpu_gib == pytest.approx(sum(getattr(plan.memory, k) for k in parts))
    assert plan.memory.overhead_gib == data.assumption("cuda_context_gib")
    # Adapter file: bf16 safetensors, 2 B per trainable parameter = 80 MiB.
    assert plan.adapter_size_mib == pytest.approx(a * 2 / 2**20) == pytest.approx(80.0)


def test_activation_formula_by_hand(catalog):
    llama2 = catalog.model(LLAMA2_7B)  # h 4096, 32 heads, 32 layers
    s, b, h, a, layers = 1304, 1, 4096, 32, 32
    # Korthikanti et al. 2022, eq. 2: 34·s·b·h + 5·a·s²·b bytes per layer without recomputation.
    assert activation_bytes(llama2, s, b, False, False) == layers * (34 * s * b * h + 5 * a * s * s * b)
    # FlashAttention keeps no s² scores.
    assert activation_bytes(llama2, s, b, False, True) == layers * 34 * s * b * h
    # Full checkpointing: 2·s·b·h per layer, plus one layer recomputed in full.
    assert activation_bytes(llama2, s, b, True, True) == layers * 2 * s * b * h + 34 * s * b * h
    assert activation_bytes(llama2, s, 2, True, True) == 2 * activation_bytes(llama2, s, 1, True, True)


def test_qlora_base_keeps_embeddings_in_bf16(catalog, data):
    llama2 = catalog.model(LLAMA2_7B)
    # Linear layers: 32 × (4·4096² + 3·4096·11008) = 6,476,005,376; the 6.74e9 total leaves 263,994,624,
    # bounded by embedding + head = 2 × 32000 × 4096 = 262,144,000, which stays bf16.
    unquantized = 262_144_000
    expected = (6.74e9 - unquantized) * 4.127 / 8 + unquantized * 2
    nf4 = catalog.quant("bnb-nf4").bits_per_weight  # QLoRA paper section 3: 4 + 8/64 + 32/(64·256)
    assert nf4 == 4.127
    assert qlora_base_bytes(llama2, nf4) == pytest.approx(expected)
    plan = plan_finetune(catalog, LLAMA2_7B, "qlora", gpu="a100-40gb")
    assert plan.memory.weights_gib == pytest.approx(expected / GIB)


def test_more_sequence_and_batch_never_use_less_memory(catalog):
    for method in METHODS:
        totals = [plan_finetune(catalog, LLAMA31_8B, method, seq_len=s, micro_batch=b).memory.total_per_gpu_gib
                  for s, b in [(512, 1), (2048, 1), (2048, 4), (8192, 4)]]
        assert totals == sorted(totals), method
    off = plan_finetune(catalog, LLAMA31_8B, "lora", gradient_checkpointing=False)
    on = plan_finetune(catalog, LLAMA31_8B, "lora", gradient_checkpointing=True)
    assert off.memory.activations_gib > 5 * on.memory.activations_gib


# ---------------------------------------------------------------- time and cost, by hand

def test_time_and_cost_by_hand(catalog, data):
    plan = plan_finetune(catalog, LLAMA31_8B, "lora", gpu="h100-sxm", tokens=10e6, epochs=2)
    # 4 FLOPs per parameter per token for LoRA: 4 × 8.03e9 × 20e6 tokens = 6.424e17 FLOPs;
    # at 989.5 TFLOPS × MFU on one H100 SXM: 6.424e17 / (989.5e12 × mfu) seconds.
    mfu = data.assumption("mfu")
    seconds = 4 * 8.03e9 * 20e6 / (989.5e12 * mfu)
    assert plan.training_flops == pytest.approx(6.424e17)
    assert plan.time_hours == pytest.approx(seconds / 3600)
    cheapest = catalog.rent_prices("h100-sxm")[0]
    assert plan.usd_per_gpu_hour == cheapest.usd and plan.price_provider == cheapest.provider
    assert plan.cost_usd == pytest.approx(seconds / 3600 * cheapest.usd)
    full = plan_finetune(catalog, LLAMA31_8B, "full", gpu="h100-sxm", tokens=10e6, epochs=2)
    assert full.time_hours == pytest.approx(plan.time_hours * 6 / 4)  # 6N vs 4N
    qlora = plan_finetune(catalog, LLAMA31_8B, "qlora", gpu="h100-sxm", tokens=10e6, epochs=2)
    assert qlora.time_hours == pytest.approx(plan.time_hours * data.assumption("qlora_time_factor"))
    eight = plan_finetune(catalog, LLAMA31_8B, "lora", gpu="h100-sxm", gpus=8, tokens=10e6, epochs=2)
    assert eight.time_hours == pytest.approx(plan.time_hours / 8)
    assert eight.cost_usd == pytest.approx(plan.cost_usd)  # same GPU-hours


def test_moe_time_counts_active_parameters(catalog):
    plan = plan_finetune(catalog, MIXTRAL, "lora", tokens=1e6)
    assert plan.training_flops == pytest.approx(4 * 12.9e9 * 1e6)
    assert plan.approximate and any(f.rule == "finetune.approximate" for f in plan.findings)


def test_geforce_trains_at_fp32_accumulate_rate(catalog):
    assert training_tflops(catalog.gpu("rtx-4090")) == pytest.approx(330.3 / 2)
    assert training_tflops(catalog.gpu("h100-sxm")) == 989.5
    assert training_tflops(catalog.gpu("apple-m3-max-128gb")) is None
    plan = plan_finetune(catalog, LLAMA31_8B, "lora", gpu="apple-m3-max-128gb")
    assert plan.time_hours is None and plan.cost_usd is None
    assert any(f.rule == "finetune.time" and f.effect == "warning" for f in plan.findings)


# ---------------------------------------------------------------- how many GPUs

def test_min_gpus_for_70b(catalog):
    # The headline: QLoRA of a 70B model fits on one 80 GB GPU; LoRA needs two; full fine-tuning needs ~16
    # (16 B × 70.55e9 = 1,051 GiB of weights, gradients and optimizer states, sharded, plus activations).
    assert min_gpus_for(catalog, LLAMA31_70B, "qlora", "h100-sxm") == 1
    assert min_gpus_for(catalog, LLAMA31_70B, "lora", "h100-sxm") == 2
    full = min_gpus_for(catalog, LLAMA31_70B, "full", "h100-sxm")
    assert 14 <= full <= 16
    assert not plan_finetune(catalog, LLAMA31_70B, "full", gpu="h100-sxm", gpus=full - 1, zero_stage=3).memory.fits
    assert plan_finetune(catalog, LLAMA31_70B, "full", gpu="h100-sxm", gpus=full, zero_stage=3).memory.fits
    assert min_gpus_for(catalog, LLAMA31_70B, "full", "h100-sxm", zero_stage=0) is None  # replicas never shrink


# ---------------------------------------------------------------- services

def test_service_quotes(catalog):
    small = plan_finetune(catalog, LLAMA31_8B, "qlora", tokens=5e6, epochs=3)
    ids = [q.id for q in small.services]
    assert ids[0] == "ori-lora-10b"  # the same open model first
    ori = small.services[0]
    assert ori.same_model and ori.usd_total == pytest.approx(15 * 0.46)
    assert all(not q.same_model for q in small.services[1:])
    big = plan_finetune(catalog, LLAMA31_70B, "lora")
    assert "ori-lora-10b" not in [q.id for q in big.services]  # its only tier is up to 10B
    full = plan_finetune(catalog, LLAMA31_8B, "full")
    assert all(not q.same_model for q in full.services)


def test_data_files_are_sourced_and_resolve(catalog, data):
    models = catalog.with_models(list(data.reference_models))
    for ref in data.references:
        assert ref.source.startswith("http") and ref.as_of, ref.id
        models.model(ref.model)
        catalog.gpu(ref.gpu)
    for service in data.services:
        assert service.source.startswith("http"), service.id
    for assumption in data.assumptions.values():
        assert assumption.source and assumption.as_of


# ---------------------------------------------------------------- validation

@pytest.mark.parametrize("kwargs, field", [
    ({"method": "dora"}, "method"),
    ({"method": "lora", "rank": 0}, "rank"),
    ({"method": "lora", "gpus": 0}, "gpus"),
    ({"method": "lora", "seq_len": 0}, "seq_len"),
    ({"method": "lora", "zero_stage": 4}, "zero_stage"),
    ({"method": "lora", "epochs": 0}, "epochs"),
    ({"method": "lora", "target_modules": "everything"}, "target_modules"),
])
def test_bad_input_names_the_field(catalog, kwargs, field):
    with pytest.raises(ConstraintError) as err:
        plan_finetune(catalog, LLAMA31_8B, **kwargs)
    assert err.value.field == field
    assert f"'{field}'" in str(err.value)


def test_unknown_model_and_gpu(catalog):
    with pytest.raises(LookupFailed):
        plan_finetune(catalog, "no/such-model", "lora")
    with pytest.raises(LookupFailed):
        plan_finetune(catalog, LLAMA31_8B, "lora", gpu="tpu-v9")


# ---------------------------------------------------------------- what the plan says

def test_findings_for_constraints(catalog):
    assert finetune_findings(catalog, LLAMA31_70B, training_ask_from(Constraints())) == []
    assert finetune_section(catalog, LLAMA31_70B, training_ask_from(Constraints())) == {}
    findings = finetune_findings(catalog, LLAMA31_70B, training_ask_from(Constraints(fine_tuning="qlora")))
    rules = [f.rule for f in findings]
    assert {"finetune.gpus_needed", "finetune.fits", "finetune.time", "finetune.serving"} <= set(rules)
    needed = next(f.message for f in findings if f.rule == "finetune.gpus_needed")
    assert "QLoRA needs 1 ×" in needed and "Full fine-tuning needs" in needed
    serving = next(f.message for f in findings if f.rule == "finetune.serving")
    assert "--enable-lora" in serving and "MiB" in serving


def test_section_is_json_and_warns_when_owned_gpus_are_too_few(catalog):
    c = Constraints(fine_tuning="full", gpus_available=[GpuCount(gpu="rtx-4090", count=2)])
    section = finetune_section(catalog, LLAMA31_8B, training_ask_from(c))
    text = json.dumps(section)
    assert section["owned"] and section["gpus"] == 2 and section["gpu"] == "rtx-4090"
    assert section["plan"]["memory"]["fits"] is False
    warning = next(f for f in section["findings"] if f["rule"] == "finetune.owned_too_small")
    assert warning["effect"] == "warning" and "LoRA fits on them" in warning["message"]
    assert "finetune.fits" in text


# ---------------------------------------------------------------- charts

def test_chart_and_tables(catalog):
    plans = [plan_finetune(catalog, LLAMA31_8B, m) for m in METHODS]
    frame = methods_frame(plans, {"lora": 1, "qlora": 1, "full": 2})
    assert list(frame["method"]) == ["LoRA", "QLoRA", "Full fine-tuning"]
    assert frame.loc[2, "gpus_needed"] == 2
    fig = memory_figure(plans)
    assert fig.layout.barmode == "stack"
    assert len(fig.data) == 8  # seven memory parts and the capacity marks
    services = services_frame(plans)
    assert {"option", "usd_total", "source"} <= set(services.columns) and len(services) >= 3


# ---------------------------------------------------------------- CLI

def _cli(argv: list[str]) -> tuple[int, str, str]:
    from planner.cli.finetune import register
    from planner.errors import PlannerError

    parser = argparse.ArgumentParser(prog="planner")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    import contextlib
    import io

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = args.func(args)
        except PlannerError as exc:  # planner/cli.py main() turns these into exit 2
            print(f"error: {exc}", file=err)
            code = 2
    return code, out.getvalue(), err.getvalue()


def test_cli_json(catalog):
    code, out, _ = _cli(["finetune", "--model", "llama3.1:70b", "--method", "qlora", "--gpu", "h100-sxm",
                         "--tokens", "20000000", "--epochs", "2", "--json"])
    assert code == 0
    data = json.loads(out)
    assert data["model"] == LLAMA31_70B and data["method"] == "qlora"
    assert {"weights_gib", "gradients_gib", "optimizer_gib", "adapter_gib", "activations_gib", "total_per_gpu_gib",
            "fits"} <= set(data["memory"])
    assert data["memory"]["fits"] is True
    assert data["trainable_params"] == lora_trainable_params(catalog.model(LLAMA31_70B), 16)
    assert data["time_hours"] > 0 and data["cost_usd"] > 0 and data["adapter_size_mib"] > 0
    assert data["services"] and data["findings"]


def test_cli_text_and_errors():
    code, out, _ = _cli(["finetune", "--model", "llama3.1:8b", "--method", "full", "--gpus", "4"])
    assert code == 0 and "ZeRO-3" in out and "GiB" in out
    for argv, field in [(["--method", "dora"], "method"), (["--method", "lora", "--rank", "-1"], "rank"),
                        (["--method", "lora", "--gpus", "many"], "gpus"), (["--method", "lora", "--targets", "x"], "target_modules")]:
        code, _, err = _cli(["finetune", "--model", "llama3.1:8b", *argv])
        assert code == 2, argv
        assert len(err.strip().splitlines()) == 1 and f"'{field}'" in err, err


def test_cli_module_entry_point():
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "planner.cli.finetune", "--model", "llama3.1:8b", "--method", "lora",
                             "--rank", "zero"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: Field 'rank'")


# ---------------------------------------------------------------- peft's own counts

def _missing_ml_packages() -> list[str]:
    try:
        return [name for name in ("torch", "transformers", "peft") if importlib.util.find_spec(name) is None]
    except ValueError:
        return ["torch"]


MISSING = _missing_ml_packages()
needs_peft = pytest.mark.skipif(bool(MISSING), reason=f"{', '.join(MISSING)} not installed: `make test` installs "
                                "torch, transformers and peft from requirements-dev.txt")
# peft still calls a transformers method that transformers 5 renamed; not ours to fix.
quiet_peft = pytest.mark.filterwarnings("ignore:`is_gradient_checkpointing` is deprecated:FutureWarning")

TINY = dict(hidden_size=64, intermediate_size=160, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
            vocab_size=128, max_position_embeddings=256)


def _tiny(config_cls_name: str, **overrides):
    import torch
    import transformers

    cfg = getattr(transformers, config_cls_name)(**{**TINY, **overrides})
    torch.manual_seed(0)
    return cfg, transformers.AutoModelForCausalLM.from_config(cfg)


def _spec(cfg, model) -> ModelSpec:
    """The catalogue record the planner would hold for this config (built directly: the tiny sizes round to 0 B)."""
    params = sum(p.numel() for p in model.parameters())
    heads = cfg.num_attention_heads
    experts = getattr(cfg, "num_local_experts", None)
    return ModelSpec(
        id="test/tiny", name="tiny", family=cfg.model_type, params_total_b=params / 1e9, params_active_b=params / 1e9,
        layers=cfg.num_hidden_layers, hidden_size=cfg.hidden_size, attention_heads=heads,
        kv_heads=cfg.num_key_value_heads, head_dim=getattr(cfg, "head_dim", None) or cfg.hidden_size // heads,
        intermediate_size=cfg.intermediate_size, vocab_size=cfg.vocab_size, experts_total=experts,
        experts_active=getattr(cfg, "num_experts_per_tok", None) if experts else None,
        max_context_tokens=cfg.max_position_embeddings, license="test", commercial_use="yes",
        source="tests/test_finetune.py", as_of="2026-11-25",
    )


def _peft_trainable(model, **lora_kwargs) -> int:
    import peft

    wrapped = peft.get_peft_model(model, peft.LoraConfig(**lora_kwargs))
    trainable, _total = wrapped.get_nb_trainable_parameters()
    return trainable


@needs_peft
@quiet_peft
@pytest.mark.parametrize("config_cls, overrides", [
    ("LlamaConfig", {}),
    ("LlamaConfig", {"head_dim": 24}),  # head_dim set apart from hidden/heads (as Qwen3 and Gemma do)
    ("MistralConfig", {"sliding_window": 64}),
    ("Qwen2Config", {}),  # q/k/v carry biases; LoRA adds none
    ("Qwen3Config", {"head_dim": 32}),
])
@pytest.mark.parametrize("targets, peft_targets", [
    ("all-linear", "all-linear"),
    ("qv", ["q_proj", "v_proj"]),
    ("attention", ["q_proj", "k_proj", "v_proj", "o_proj"]),
])
@pytest.mark.parametrize("rank", [4, 16])
def test_trainable_params_equal_peft(config_cls, overrides, targets, peft_targets, rank):
    cfg, model = _tiny(config_cls, **overrides)
    expected = _peft_trainable(model, r=rank, lora_alpha=2 * rank, target_modules=peft_targets)
    assert lora_trainable_params(_spec(cfg, model), rank, targets) == expected


@needs_peft
@quiet_peft
def test_moe_expert_counts_equal_peft():
    """Mixtral-style experts. transformers >= 5 stores each layer's experts as fused 3-D parameters, which peft
    adapts through `target_parameters` with one A matrix of r × experts rows per parameter: exactly the
    planner's experts × r × (in + out) for down_proj. gate and up are fused into one parameter there, so
    peft shares the input-side A matrix between them: experts × r × hidden fewer per layer than two
    separate modules (the planner counts the separate layout that per-expert modules and serving engines use)."""
    import torch
    cfg, model = _tiny("MixtralConfig", intermediate_size=96, num_local_experts=4, num_experts_per_tok=2)
    spec = _spec(cfg, model)
    rank = 8
    attention = ["q_proj", "k_proj", "v_proj", "o_proj"]
    fused_experts = hasattr(model.model.layers[0].mlp.experts, "down_proj") and \
        isinstance(model.model.layers[0].mlp.experts.down_proj, torch.nn.Parameter)
    if not fused_experts:
        pytest.skip("this transformers version keeps per-expert modules; covered by the dense tests")
    down_only = _peft_trainable(model, r=rank, target_modules=attention, target_parameters=["mlp.experts.down_proj"])
    assert lora_trainable_params(spec, rank, [*attention, "down_proj"]) == down_only
    _, model = _tiny("MixtralConfig", intermediate_size=96, num_local_experts=4, num_experts_per_tok=2)
    with_gate_up = _peft_trainable(model, r=rank, target_modules=attention,
                                   target_parameters=["mlp.experts.gate_up_proj", "mlp.experts.down_proj"])
    shared_a = spec.layers * spec.experts_total * rank * spec.hidden_size
    assert lora_trainable_params(spec, rank, "all-linear") - shared_a == with_gate_up


# ---------------------------------------------------------------- the page

def test_finetune_page_renders_and_reacts():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "streamlit_app.py"), default_timeout=60).run()
    at.switch_page("pages/finetune.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "Fine-tuning"
    table = at.dataframe[0].value
    assert list(table["method"]) == ["LoRA", "QLoRA", "Full fine-tuning"]
    assert table["capacity_gib"].iloc[0] > 0  # the page opens on the plan's GPU (tests/test_app_pages.py)
    before = table["fits"].tolist()

    at.selectbox(key="ft_gpu").set_value("rtx-4090").run()
    at.number_input(key="ft_gpus").set_value(1).run()  # the page opens on the plan's GPU count
    assert not at.exception, [e.value for e in at.exception]
    table = at.dataframe[0].value
    assert table["capacity_gib"].iloc[0] == 24
    assert table["time_hours"].iloc[0] > 0

    at.multiselect(key="ft_methods").set_value(["qlora"]).run()
    assert list(at.dataframe[0].value["method"]) == ["QLoRA"]

    at.selectbox(key="ft_model").set_value(LLAMA31_70B).run()
    assert not at.exception
    assert at.dataframe[0].value["fits"].tolist() == [False]  # QLoRA of 70B needs more than one 24 GiB card
    assert before != at.dataframe[0].value["fits"].tolist()
    assert any("**Fine-tuning fits**" in m.value for m in at.markdown)  # rule titles, not ids, on the page
    assert len(at.dataframe) == 2  # methods and services


def test_bench_prints_its_table(capsys):
    import runpy

    with pytest.raises(SystemExit) as done:
        runpy.run_path(str(ROOT / "bench" / "finetune_accuracy.py"), run_name="__main__")
    assert done.value.code == 0
    out = capsys.readouterr().out
    assert "median absolute error" in out and "litgpt-llama2-7b-lora-mb1" in out
    assert not math.isnan(float(out.split("measured peak_memory: median absolute error ")[1].split("%")[0]))
