"""README.md of the deployment files: what is deployed, the files, notes, and the flags with their sources."""

from __future__ import annotations

from planner.deploy.flags import DOCS, VERIFIED_FLAGS
from planner.deploy.layout import GGUF_REPOS, Layout, describe, gguf_path, needs_prequantized, served_path, template_kwargs_json
from planner.plan.model import Plan


def readme(plan: Plan, lay: Layout, names: list[str]) -> str:
    title = _one_line(str(plan.constraints.get("name", "Untitled plan")), 120)
    rows = [
        ("Model", f"{lay.model_name} (`{lay.model}`)"),
        ("Quantization", lay.quant),
        ("Checkpoint", _checkpoint_text(lay)),
        ("Image", f"`{lay.image}`" if lay.image else f"none: {lay.image_note or 'install the engine natively'}"),
        ("Engine", lay.engine),
        ("Hardware", f"{lay.gpus} × {lay.gpu_name} per replica, {lay.replicas} replica(s)"),
        ("Layout", _parallel_text(lay)),
        ("Context", f"{lay.context_tokens:,} tokens per sequence planned, {lay.sequences} sequence(s) in flight per replica; "
                    f"requests of up to {lay.request_limit:,} tokens (input + output) accepted"),
        ("KV cache", lay.kv_cache_dtype),
    ]
    lines = [f"# Deployment files: {title}", "", f"Generated from the plan's top pick. {describe(lay)}.", "",
             "| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows], "", "## Files", ""]
    lines += [f"- `{n}`" for n in [*names, "README.md"]]
    lines += ["", "## Notes", ""]
    if needs_prequantized(lay):
        lines.append(f"- {lay.quant} weights are loaded from `{served_path(lay)}`: a checkpoint of `{lay.model}` in that format "
                     "must be there first; the server answers under the plan's model id.")
    if lay.is_gguf and not (lay.quant == "mxfp4" and lay.model in GGUF_REPOS):
        how = ("fetches it from the published repo" if lay.checkpoint_repo and lay.checkpoint_file
               else "makes it from the Hugging Face checkpoint")
        lines.append(f"- llama.cpp and Ollama serve `{gguf_path(lay)}`; `prepare-gguf.sh` {how}.")
    if lay.chat_template_kwargs:
        where = ("the server's default for requests that name none" if lay.engine in {"vllm", "llama.cpp"}
                 else f"not settable as a default on {lay.engine}: every request must send it (`chat_template_kwargs`)")
        lines.append(f"- Reasoning: the plan runs {lay.model_name} in its {lay.reasoning_mode} mode, selected by the chat-template "
                     f"arguments `{template_kwargs_json(lay)}`: {where}. Without them the model writes hidden reasoning tokens "
                     "the plan did not count.")
    if not lay.image:
        lines.append(f"- No container: {lay.image_note or 'install the engine natively'}; run the launch script on the machine itself.")
    if lay.replicas > 1:
        lines.append("- Kubernetes: replicas are spread over nodes (pod anti-affinity) and a PodDisruptionBudget keeps all but one up "
                     "during node drains.")
    if lay.multi_node:
        lines.append(f"- One replica spans {lay.nodes} nodes of {lay.gpus_per_node} GPUs; the Kubernetes manifest is a "
                     f"LeaderWorkerSet per {DOCS['vllm-lws']}.")
    lines += ["- Secrets are never written into these files: pass `HF_TOKEN` through the environment or the `hf-token` Secret.",
              "- Image tags follow each project's documentation; pin a digest for production.", "",
              "## Flags used and where they were checked", "", "| Engine | Flag | Documentation |", "|---|---|---|"]
    relevant = {lay.engine, "compose", "kubernetes"} | ({"llama.cpp", "ollama"} if lay.is_gguf else set())
    lines += [f"| {e} | `{f}` | {u} |" for e, f, u in VERIFIED_FLAGS if e in relevant]
    return "\n".join(lines) + "\n"


def readme_without_pick(plan: Plan) -> str:
    title = _one_line(str(plan.constraints.get("name", "Untitled plan")), 120)
    reasons = "\n".join(f"- {_one_line(r, 300)}" for r in plan.verdict_reasons) or "- (no reasons recorded)"
    return (f"# Deployment files: {title}\n\nNo self-hosted configuration meets the constraints (verdict: {plan.verdict}), "
            f"so there is nothing to deploy.\n\n{reasons}\n")


def _checkpoint_text(lay: Layout) -> str:
    """Where the weights come from: the published repo (and GGUF file), or the user's own quantization."""
    if lay.checkpoint_repo:
        where = f"`{lay.checkpoint_repo}`" + (f", file `{lay.checkpoint_file}`" if lay.checkpoint_file and lay.is_gguf else "")
        return f"{where} (https://huggingface.co/{lay.checkpoint_repo})"
    if needs_prequantized(lay):
        return f"none published in {lay.quant}: quantize `{lay.model}` yourself and mount it at `{served_path(lay)}`"
    return f"`{lay.model}`"


def _parallel_text(lay: Layout) -> str:
    if lay.gpus == 1:
        return "single GPU" + (f", {lay.gpu_layers} of {lay.layers} layers on the GPU" if lay.gpu_layers < lay.layers else "")
    if lay.engine in {"llama.cpp", "ollama"}:
        return f"layers split over {lay.gpus} GPUs"
    text = f"tensor parallel {lay.tensor_parallel}"
    if lay.pipeline_parallel > 1:
        text += f" × pipeline parallel {lay.pipeline_parallel}"
    if lay.multi_node:
        text += f" over {lay.nodes} nodes of {lay.gpus_per_node} GPUs"
    return text


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
