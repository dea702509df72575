"""Deployment files for a plan's top pick: launch commands, a compose file and Kubernetes manifests.

`deployment_files(plan)` returns {file name: text}; every file describes the same deployment (one
model, one quantization, one parallel layout, one context length), taken from
`plan.recommendation` and the memory estimate behind it. `deployment_zip` and `write_deploy_dir`
package the same dict. Only flags found in each engine's documentation are used; `VERIFIED_FLAGS`
lists them with the page they were checked against (November 2026), and the README repeats it.

Layout rules:
- One replica on at most 8 GPUs runs on one node: tensor parallel over its GPUs (vLLM, SGLang, TGI,
  TensorRT-LLM) or a layer split (llama.cpp, Ollama). Replicas are copies behind a Service.
- A replica needing more than 8 GPUs spans nodes: vLLM runs tensor parallel within a node and
  pipeline parallel across nodes on a Ray cluster, deployed as a LeaderWorkerSet exactly as in
  vLLM's LWS guide; SGLang uses its own multi-node flags in the same LeaderWorkerSet shape.
- GGUF formats are served from a local .gguf file (`prepare-gguf.sh` makes it from the Hugging Face
  checkpoint with llama.cpp's converter); pre-quantized GPU formats (AWQ, GPTQ, INT8, FP8 on
  TensorRT-LLM) need a checkpoint in that format, mounted at the path the commands name, and are
  served under the plan's model id; FP8 and bitsandbytes on vLLM/SGLang/TGI quantize on load.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

from planner.catalog.loading import Catalog
from planner.deploy.compose import compose_yaml
from planner.deploy.flags import DOCS, VERIFIED_FLAGS
from planner.deploy.kubernetes import kubernetes_yaml
from planner.deploy.layout import GGUF_REPOS, DeploymentError, Layout, gguf_path, has_container, layout
from planner.deploy.leaderworkerset import ray_leader_command, ray_worker_command
from planner.deploy.llama_cpp import llama_server_args, llama_server_script, prepare_gguf_script
from planner.deploy.ollama import modelfile, ollama_name, ollama_script
from planner.deploy.readme import readme, readme_without_pick
from planner.deploy.render import join
from planner.deploy.sglang import sglang_args, sglang_script
from planner.deploy.tensorrt_llm import trtllm_args, trtllm_extra, trtllm_script
from planner.deploy.tgi import tgi_docker_args, tgi_script
from planner.deploy.vllm import vllm_args, vllm_script
from planner.monitor.alerts import monitoring_files
from planner.plan.model import Plan

__all__ = ["DOCS", "VERIFIED_FLAGS", "DeploymentError", "Layout", "deployment_files", "deployment_zip", "launch_commands",
           "layout", "layout_files", "write_deploy_dir"]


def deployment_files(plan: Plan, catalog: Catalog | None = None) -> dict[str, str]:
    """File name -> text of every deployment file for the plan's top pick (README.md always)."""
    if plan.recommendation is None:
        return {"README.md": readme_without_pick(plan)}
    lay = layout(plan, catalog)
    files = layout_files(lay)
    files.update(monitoring_files(plan.to_json_dict()))  # Prometheus rules + Grafana dashboard, the plan's thresholds
    files["README.md"] = readme(plan, lay, sorted(files))
    return files


def layout_files(lay: Layout) -> dict[str, str]:
    """File name -> text of the launch scripts, compose file and manifests for one layout (no README)."""
    files: dict[str, str] = {}
    if lay.engine in {"llama.cpp", "ollama"}:
        # Both serve the same GGUF file, so both are offered; the plan's engine is the compose/k8s one.
        if lay.model not in GGUF_REPOS or lay.quant != "mxfp4":
            files["prepare-gguf.sh"] = prepare_gguf_script(lay)
        files["llama-server.sh"] = llama_server_script(lay)
        files["Modelfile"] = modelfile(lay)
        files["ollama.sh"] = ollama_script(lay)
    elif lay.engine == "vllm":
        files["vllm.sh"] = vllm_script(lay)
    elif lay.engine == "sglang":
        files["sglang.sh"] = sglang_script(lay)
    elif lay.engine == "tgi":
        files["tgi.sh"] = tgi_script(lay)
    elif lay.engine == "tensorrt-llm":
        files["trtllm-serve.sh"] = trtllm_script(lay)
        if lay.kv_cache_dtype == "fp8":
            files["trtllm-extra.yaml"] = trtllm_extra()
    else:
        raise DeploymentError(f"No deployment template for engine '{lay.engine}'.")
    if has_container(lay):  # Apple (Metal) and hardware without a published image run the engine natively
        files["docker-compose.yaml"] = compose_yaml(lay)
        files["kubernetes.yaml"] = kubernetes_yaml(lay)
    return files


def deployment_zip(plan: Plan, catalog: Catalog | None = None) -> bytes:
    """The deployment files as a zip archive (fixed timestamps, so equal plans give equal bytes)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in sorted(deployment_files(plan, catalog).items()):
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o755 if name.endswith(".sh") else 0o644) << 16
            archive.writestr(info, text.encode("utf-8"))
    return buffer.getvalue()


def write_deploy_dir(plan: Plan, directory: str | Path, catalog: Catalog | None = None) -> list[Path]:
    """Write the deployment files into `directory` (created if missing); returns the paths written."""
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(deployment_files(plan, catalog).items()):
        path = target / name
        path.write_text(text, encoding="utf-8")
        if name.endswith(".sh"):
            path.chmod(0o755)
        written.append(path)
    return written


def launch_commands(plan: Plan, catalog: Catalog | None = None) -> list[tuple[str, str]]:
    """(title, shell command) pairs for the plan's top pick, for the report; empty without one."""
    if plan.recommendation is None:
        return []
    lay = layout(plan, catalog)
    if lay.engine in {"llama.cpp", "ollama"}:
        out = []
        if lay.model not in GGUF_REPOS or lay.quant != "mxfp4":
            out.append(("Make the GGUF file (prepare-gguf.sh)", f"bash prepare-gguf.sh  # writes {gguf_path(lay)}"))
        out.append(("llama.cpp server", join(llama_server_args(lay))))
        out.append(("Ollama", f"ollama create {ollama_name(lay)} -f Modelfile && ollama run {ollama_name(lay)}"))
        return out
    if lay.engine == "vllm":
        if lay.multi_node:
            return [("vLLM leader node (Ray head)", ray_leader_command(lay)),
                    ("vLLM worker nodes", ray_worker_command("<LEADER_ADDRESS>"))]
        return [("vLLM", join(vllm_args(lay)))]
    if lay.engine == "sglang":
        if lay.multi_node:
            return [(f"SGLang node {rank}", join(sglang_args(lay, rank, "<LEADER_ADDRESS>:20000"))) for rank in range(lay.nodes)]
        return [("SGLang", join(sglang_args(lay)))]
    if lay.engine == "tgi":
        return [("Text Generation Inference", join(tgi_docker_args(lay)))]
    return [("TensorRT-LLM", join(trtllm_args(lay)))]
