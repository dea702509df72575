"""docker-compose.yaml: one service per replica (or per node of a multi-node replica), with its GPUs."""

from __future__ import annotations

from planner.deploy.container import container_args
from planner.deploy.flags import DOCS
from planner.deploy.layout import GPUS_PER_NODE, PORTS, Layout, describe, engine_image, hf_cache_dir
from planner.deploy.ollama import ollama_env, ollama_name
from planner.deploy.render import comment, join, to_yaml
from planner.deploy.sglang import sglang_args
from planner.deploy.vllm import vllm_args


def compose_yaml(lay: Layout) -> str:
    header = [comment(describe(lay)), "# docker compose up -d   (GPU access: " + DOCS["compose-gpu"] + ")"]
    services: dict[str, dict] = {}
    if lay.multi_node:
        header.append(f"# Multi-node: run `docker compose up {lay.name}-leader` on the head node and "
                      f"`LEADER_ADDRESS=<head ip> docker compose up {lay.name}-worker` on the other {lay.nodes - 1}.")
        services.update(_compose_multi_node(lay))
    else:
        blocks = _replica_gpu_blocks(lay)
        if len(blocks) == 1 and lay.replicas > 1:
            header.append(f"# The plan runs {lay.replicas} replicas of this service: one per host (or use kubernetes.yaml).")
        for index, devices in enumerate(blocks):
            name = lay.name if len(blocks) == 1 else f"{lay.name}-{index + 1}"
            services[name] = _compose_service(lay, devices, host_port=_host_port(lay) + index)
        if lay.engine == "ollama":
            services[f"{lay.name}-create"] = _ollama_create_service(lay, next(iter(services)))
    doc = {"services": services}
    if lay.engine not in {"llama.cpp", "ollama"}:
        doc["volumes"] = {"hf-cache": {}}
    if lay.engine == "ollama":
        doc["volumes"] = {"ollama": {}}
    return "\n".join(header) + "\n" + to_yaml(doc)


def _host_port(lay: Layout) -> int:
    return 8080 if lay.engine == "tgi" else lay.port


def _replica_gpu_blocks(lay: Layout) -> list[dict]:
    """Compose GPU requests: one service with `count`, or, when every replica fits on one 8-GPU
    host, one service per replica pinned to its own GPUs (`device_ids`; the spec forbids both)."""
    if lay.replicas > 1 and lay.replicas * lay.gpus <= GPUS_PER_NODE and lay.vendor == "nvidia":
        return [{"device_ids": [str(i * lay.gpus + g) for g in range(lay.gpus)]} for i in range(lay.replicas)]
    return [{"count": lay.gpus}]


def _compose_service(lay: Layout, devices: dict, host_port: int) -> dict:
    service: dict = {"image": engine_image(lay)}
    if lay.engine != "ollama":  # Ollama's image serves by itself; a second service creates the model
        command, args = container_args(lay)
        service["command"] = command or args
    if lay.engine == "ollama":
        service["environment"] = ollama_env(lay)
        service["volumes"] = ["ollama:/root/.ollama"]
    elif lay.engine == "llama.cpp":
        service["volumes"] = ["/models:/models:ro"]
    else:
        service["environment"] = {"HF_TOKEN": "${HF_TOKEN:-}"}
        service["volumes"] = [f"hf-cache:{hf_cache_dir(lay)}", "/models:/models:ro"]
        service["ipc"] = "host"  # tensor-parallel workers share memory through /dev/shm
    if lay.engine == "tensorrt-llm" and lay.kv_cache_dtype == "fp8":
        service["volumes"].append("./trtllm-extra.yaml:/workspace/trtllm-extra.yaml:ro")
        service["working_dir"] = "/workspace"
    service["ports"] = [f"{host_port}:{lay.port}"]
    gpu = _compose_gpu(lay, devices)
    service.update(gpu)
    service["restart"] = "unless-stopped"
    return service


def _compose_gpu(lay: Layout, devices: dict) -> dict:
    if lay.vendor == "nvidia":
        return {"deploy": {"resources": {"reservations": {"devices": [
            {"driver": "nvidia", **devices, "capabilities": ["gpu"]}]}}}}
    if lay.vendor in {"amd", "intel"}:
        return {"devices": ["/dev/kfd", "/dev/dri"] if lay.vendor == "amd" else ["/dev/dri"], "group_add": ["video"]}
    return {}  # CPU, or Apple silicon (Metal is not reachable from containers: run natively)


def _ollama_create_service(lay: Layout, server: str) -> dict:
    name = ollama_name(lay)
    return {"image": engine_image(lay), "depends_on": [server], "working_dir": "/work",
            "environment": {"OLLAMA_HOST": f"{server}:{PORTS['ollama']}"},
            "volumes": ["./:/work:ro", "/models:/models:ro"],
            "entrypoint": ["ollama"], "command": ["create", name, "-f", "Modelfile"], "restart": "no"}


def _compose_multi_node(lay: Layout) -> dict:
    devices = {"count": lay.gpus_per_node}
    base = {"image": engine_image(lay), "network_mode": "host", "ipc": "host",
            "environment": {"HF_TOKEN": "${HF_TOKEN:-}"}, "volumes": ["hf-cache:/root/.cache/huggingface", "/models:/models:ro"]}
    if lay.engine == "vllm":
        find = ("S=/vllm-workspace/examples/online_serving/multi-node-serving.sh; "
                "[ -f $$S ] || S=/vllm-workspace/examples/ray_serving/multi-node-serving.sh; ")
        leader = {**base, "entrypoint": ["sh", "-c"],
                  "command": [find + f"bash $$S leader --ray_cluster_size={lay.nodes} && " + join(vllm_args(lay), indent=None)]}
        worker = {**base, "entrypoint": ["sh", "-c"],
                  "command": [find + "bash $$S worker --ray_address=${LEADER_ADDRESS:?set LEADER_ADDRESS}"]}
    else:
        leader = {**base, "command": sglang_args(lay, 0, "${LEADER_ADDRESS:?set LEADER_ADDRESS}:20000")}
        worker = {**base, "command": sglang_args(lay, 1, "${LEADER_ADDRESS:?set LEADER_ADDRESS}:20000")}
    for service in (leader, worker):
        service.update(_compose_gpu(lay, devices))
    return {f"{lay.name}-leader": leader, f"{lay.name}-worker": worker}
