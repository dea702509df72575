"""The engine support matrix: every formable (engine, hardware class) has an image answer, every catalogue
architecture runs somewhere, unknown combinations answer 'unknown', and the rows are sourced and dated."""

import csv
import datetime as dt
import shutil

import pytest

from planner.catalog.engine_support import (
    EngineSupport,
    default_support,
    hardware_class_of,
    image,
    k8s_gpu_resource,
    lifecycle,
    load_engine_support,
    min_compute_capability,
    support,
)
from planner.catalog.loading import DATA_DIR, read_rows
from planner.errors import CatalogError

FILES = ("engine_support.csv", "engine_images.csv", "engine_lifecycle.csv", "hardware_classes.csv")
# Architectures in models.csv that no engine is recorded to run, each with its reason. Empty today.
EXCEPTIONS: dict[str, str] = {}


@pytest.fixture(scope="module")
def matrix() -> EngineSupport:
    return load_engine_support()


def _engine_classes() -> set[tuple[str, str]]:
    """(engine, hardware class) pairs the catalogue can form: an engine's hardware list (engines.csv) meets a
    device's class (gpus.csv); NVIDIA edge modules are the 'jetson' class of engines that list nvidia."""
    classes = {hardware_class_of(g["kind"], g["vendor"]) for g in read_rows(DATA_DIR / "gpus.csv")}
    pairs = set()
    for engine in read_rows(DATA_DIR / "engines.csv"):
        listed = set(engine["hardware"].split(";"))
        if "nvidia" in listed:
            listed.add("jetson")
        pairs |= {(engine["id"], c) for c in classes & listed}
    return pairs


def test_every_formable_engine_and_hardware_class_has_an_image_answer(matrix):
    pairs = _engine_classes()
    assert ("vllm", "gaudi") in pairs and ("llama.cpp", "jetson") in pairs and ("ollama", "apple") in pairs
    for engine, hw in sorted(pairs):
        found = matrix.images.get((engine, hw))
        assert found is not None, f"no row in engine_images.csv for {engine} on {hw}"
        if found.kind == "container":
            assert found.image and ":" in found.image, f"{engine}/{hw}: a container row names image:tag"
        else:
            assert found.reason, f"{engine}/{hw}: a {found.kind} row says why"


def test_every_catalogue_architecture_runs_on_some_engine(matrix):
    quants = [q["id"] for q in read_rows(DATA_DIR / "quants.csv")] + ["nvfp4"]
    engines = list(matrix.lifecycles)
    classes = list(matrix.hardware)
    archs = set(matrix.architectures.values())
    assert len(matrix.architectures) == len(read_rows(DATA_DIR / "models.csv")), "every model has an architecture"
    for arch in sorted(archs - set(EXCEPTIONS)):
        runs = [(e, hw, q) for e in engines for hw in classes for q in quants
                if support(e, arch, hw, q).status == "supported"]
        assert runs, f"{arch}: no engine is recorded to run it"


def test_problems_from_the_issue_are_answered(matrix):
    tgi = support("tgi", "LlamaForCausalLM", "nvidia", "bf16")
    assert tgi.status == "unsupported" and tgi.reason.startswith("TGI: in maintenance mode since 2025-12-11")
    assert lifecycle("tgi").status == "maintenance" and lifecycle("tgi").since == dt.date(2025, 12, 11)
    v100 = support("tensorrt-llm", "LlamaForCausalLM", "nvidia", "fp16", compute_capability=7.0, device="V100")
    assert (v100.status, v100.reason) == ("unsupported", "TensorRT-LLM needs compute capability 8.0; V100 is 7.0")
    assert support("tensorrt-llm", "LlamaForCausalLM", "nvidia", "fp16", compute_capability=7.5).status == "unsupported"
    assert support("tensorrt-llm", "LlamaForCausalLM", "nvidia", "fp16", compute_capability=8.0).status == "supported"
    assert "rocm" in image("sglang", "amd").image and image("sglang", "amd").image != image("sglang", "nvidia").image
    assert not image("vllm", "gaudi").image.startswith("vllm/vllm-openai")
    amd = image("vllm", "amd")
    assert amd.image.startswith("vllm/vllm-openai-rocm:") and amd.serves_on_start is True
    assert k8s_gpu_resource("intel").startswith("gpu.intel.com/") and k8s_gpu_resource("gaudi") == "habana.ai/gaudi"
    assert "server-cuda" not in image("llama.cpp", "jetson").image
    assert {image(e, "apple").kind for e in ("llama.cpp", "ollama", "vllm", "tensorrt-llm")} <= {"native", "none"}
    assert matrix.hardware["apple"].containers_reach_accelerator is False


def test_kernels_that_exist_for_some_gpu_families_only():
    assert support("vllm", "DeepseekV32ForCausalLM", "nvidia", "fp8", compute_capability=9.0).status == "supported"
    rtx = support("vllm", "DeepseekV32ForCausalLM", "nvidia", "fp8", compute_capability=12.0, device="RTX 5090")
    assert rtx.status == "unsupported" and rtx.reason.endswith("RTX 5090 is 12.0")
    t4 = support("vllm", "LlamaForCausalLM", "nvidia", "bf16", compute_capability=7.5, device="T4")
    assert (t4.status, t4.reason) == ("unsupported", "bfloat16 needs compute capability 8.0; T4 is 7.5")
    assert support("vllm", "LlamaForCausalLM", "nvidia", "fp16", compute_capability=7.5).status == "supported"
    assert min_compute_capability("tensorrt-llm", "fp8") == 8.9
    assert min_compute_capability("tensorrt-llm", "bf16") == 8.0
    assert min_compute_capability("vllm", "awq-int4") == 7.5
    assert min_compute_capability("llama.cpp", "q4_k_m") is None
    assert min_compute_capability("tensorrt-llm", "mxfp4") == 9.0  # the floor grid_options already applies


def test_the_most_specific_row_decides():
    gpt_oss = support("vllm", "GptOssForCausalLM", "nvidia", "mxfp4")
    assert gpt_oss.status == "supported" and gpt_oss.since == "0.10.1"
    assert support("vllm", "LlamaForCausalLM", "amd", "awq-int4").status == "unsupported"  # format row for AMD
    assert support("vllm", "Phi3SmallForCausalLM", "nvidia", "bf16").status == "unsupported"  # dropped after 0.9.2
    assert support("llama.cpp", "MiniMaxM1ForCausalLM", "apple", "q4_k_m").status == "unsupported"
    assert support("llama.cpp", "Qwen3NextForCausalLM", "apple", "q4_k_m").status == "supported"
    assert support("llama.cpp", "LlamaForCausalLM", "nvidia", "awq-int4").status == "unsupported"
    qwen35 = support("tensorrt-llm", "Qwen3_5MoeForConditionalGeneration", "nvidia", "fp8")
    assert qwen35.status == "supported" and qwen35.since == "1.3.0rc9"
    assert support("tensorrt-llm", "Qwen3_5MoeForConditionalGeneration", "nvidia", "awq-int4").status == "unknown"


def test_unknown_combinations_answer_unknown_and_never_raise():
    for answer in (support("vllm", "NoSuchForCausalLM", "nvidia", "bf16"),
                   support("no-such-engine", "LlamaForCausalLM", "nvidia", "bf16"),
                   support("vllm", "LlamaForCausalLM", "no-such-class", "bf16"),
                   support("vllm", "LlamaForCausalLM", "nvidia", "no-such-format"),
                   support("vllm", None, "nvidia", "bf16"),
                   support("vllm", "DeepseekV32ForCausalLM", "amd", "fp8")):
        assert answer.status == "unknown" and answer.reason and answer.source
    assert image("no-such-engine", "nvidia").kind == "unknown"
    assert k8s_gpu_resource("no-such-class") is None and k8s_gpu_resource("apple") is None
    assert lifecycle("no-such-engine").status == "unknown"
    assert min_compute_capability("no-such-engine", "bf16") is None


def test_every_row_is_sourced_by_url_and_dated():
    today = dt.date.today()
    for name in FILES:
        for number, row in enumerate(read_rows(DATA_DIR / name), start=2):
            assert row["source"].startswith("https://"), f"{name} row {number}: source is not a URL"
            assert dt.date.fromisoformat(row["as_of"]) <= today, f"{name} row {number}: as_of in the future"
            if row.get("since") and name == "engine_lifecycle.csv":
                dt.date.fromisoformat(row["since"])


def test_device_classes():
    gpus = {g["id"]: hardware_class_of(g["kind"], g["vendor"]) for g in read_rows(DATA_DIR / "gpus.csv")}
    assert gpus["jetson-agx-orin-64gb"] == "jetson" and gpus["b200"] == "nvidia" and gpus["mi300x"] == "amd"
    assert gpus["intel-arc-b580"] == "intel" and gpus["intel-gaudi3"] == "gaudi"
    assert gpus["apple-m3-max-128gb"] == "apple" and gpus["cpu-epyc-9654"] == "cpu"


def _rewrite(path, column, row_index, value):
    rows = list(csv.DictReader(open(path, newline="", encoding="utf-8")))
    rows[row_index][column] = value
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


@pytest.mark.parametrize("file_name, column, value, message", [
    ("engine_support.csv", "status", "maybe", "engine_support.csv, row 2, field 'status'"),
    ("engine_support.csv", "engine", "tgx", "engine_support.csv, row 2, field 'engine': 'tgx' is not one of"),
    ("engine_support.csv", "format", "q9_z", "engine_support.csv, row 2, field 'format'"),
    ("engine_images.csv", "hardware_class", "tpu", "engine_images.csv, row 2, field 'hardware_class'"),
    ("engine_images.csv", "image", "", "engine_images.csv, row 2, field 'image'"),
    ("engine_lifecycle.csv", "as_of", "yesterday", "engine_lifecycle.csv, row 2, field 'as_of'"),
])
def test_a_bad_row_names_its_file_row_and_field(tmp_path, file_name, column, value, message):
    data = tmp_path / "data"
    shutil.copytree(DATA_DIR, data)
    _rewrite(data / file_name, column, 0, value)
    with pytest.raises(CatalogError, match=message.replace("(", r"\(")):
        load_engine_support(data)


def test_the_grids_support_table_equals_support_for_every_sampled_combination():
    """One formula, one place: the planning grid's vectorised table answers as `support` does."""
    import random

    from planner.catalog.loading import load_catalog
    from planner.plan.grid_options import quant_engine_pairs
    from planner.plan.grid_support import _device_key, support_mask

    catalog = load_catalog()
    models, gpus, pairs = list(catalog.models.values()), list(catalog.gpus.values()), quant_engine_pairs(catalog)
    mask = support_mask(models, pairs, gpus)
    matrix = default_support()
    rng = random.Random(7)
    for _ in range(4000):
        m, p, g = rng.randrange(len(models)), rng.randrange(len(pairs)), rng.randrange(len(gpus))
        cls, cc = _device_key(gpus[g])
        quant, engine = pairs[p]
        answer = matrix.support(engine.id, models[m].hf_architecture, cls, quant.id, compute_capability=cc or None)
        assert (answer.status == "supported") == mask[m, p, g], (models[m].id, quant.id, engine.id, gpus[g].id, answer)


def test_no_plan_recommends_an_engine_in_maintenance_or_an_unsupported_combination():
    from planner.catalog.loading import load_catalog
    from planner.plan.constraints import Constraints
    from planner.plan.recommend import recommend

    catalog = load_catalog()
    for ask in ({"requests_per_day": 20_000, "task": "code", "privacy": "on-prem"},
                {"requests_per_day": 5_000, "gpus_available": [{"gpu": "mi300x", "count": 8}]},
                {"requests_per_day": 50_000, "task": "reasoning"}):
        plan = recommend(Constraints.model_validate(ask))
        assert any(f.rule == "engine.lifecycle" and f.subject == "tgi" for f in plan.findings)
        for cand in [plan.recommendation, *plan.alternatives]:
            assert cand.engine != "tgi"
            gpu, model = catalog.gpu(cand.gpu), catalog.model(cand.model)
            answer = default_support().support(cand.engine, model.hf_architecture, hardware_class_of(gpu.kind, gpu.vendor),
                                               cand.quant, compute_capability=gpu.compute_capability)
            assert answer.status == "supported", (cand.model, cand.quant, cand.engine, cand.gpu, answer.reason)


def test_sglang_is_not_planned_in_bitsandbytes():
    """bitsandbytes' matmul_4bit dequantizes the whole weight to 16 bits on every call with more than one token, and
    SGLang's mixture method dequantizes every expert on every pass (both cited in the row): a served batch moves more
    bytes than the 16-bit model. So no model, dense or mixture, is planned on SGLang in bitsandbytes, with that reason;
    they keep SGLang in the formats with real 4-bit kernels, and QLoRA keeps the format for fine-tuning."""
    from planner.catalog.loading import load_catalog

    catalog = load_catalog()
    architectures = {m.hf_architecture for m in catalog.models.values()}
    served = {a for a in architectures if support("sglang", a, "nvidia", "bf16").status == "supported"}
    assert {"LlamaForCausalLM", "DeepseekV3ForCausalLM", "Qwen3_5MoeForConditionalGeneration"} <= served
    for arch in sorted(served):
        answer = support("sglang", arch, "nvidia", "bnb-nf4")
        assert answer.status == "unsupported" and "dequantizing them to 16 bits" in answer.reason, arch
        assert support("sglang", arch, "nvidia", "awq-int4").status == "supported", arch


def test_tensorrt_llm_runs_deepseek_on_hopper_and_blackwell_only():
    """TensorRT-LLM's DeepSeek guide: 'Ampere architecture (SM80 & SM86) is not supported' (V3.2 shares the code
    path), so no plan puts DeepSeek V3/R1/V3.2 on A100s with it; an H100 or a B200 keeps it."""
    for arch in ("DeepseekV3ForCausalLM", "DeepseekV32ForCausalLM"):
        a100 = support("tensorrt-llm", arch, "nvidia", "awq-int4", compute_capability=8.0, device="A100")
        assert a100.status == "unsupported" and "Ampere" in a100.reason and a100.reason.endswith("A100 is 8.0")
        assert support("tensorrt-llm", arch, "nvidia", "fp8", compute_capability=9.0).status == "supported"
        assert support("tensorrt-llm", arch, "nvidia", "fp8", compute_capability=10.0).status == "supported"


def test_sglang_needs_turing_or_newer():
    """SGLang raises 'SGLang only supports sm75 and above.' when it loads a model on a compute capability 7.0
    device (cited in the row): no plan puts it on V100s; a T4 (7.5) keeps it."""
    v100 = support("sglang", "LlamaForCausalLM", "nvidia", "fp16", compute_capability=7.0, device="V100")
    assert v100.status == "unsupported" and "7.5" in v100.reason and v100.reason.endswith("V100 is 7.0")
    assert support("sglang", "LlamaForCausalLM", "nvidia", "fp16", compute_capability=7.5).status == "supported"
