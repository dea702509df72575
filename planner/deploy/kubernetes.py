"""kubernetes.yaml: a Deployment and Service per plan (with a PVC for local weights and ConfigMaps for
files the engine reads), or a LeaderWorkerSet when one replica spans nodes."""

from __future__ import annotations

import math

from planner.deploy.container import container_args
from planner.deploy.flags import DOCS
from planner.deploy.layout import (
    HEALTH_PATHS,
    DeploymentError,
    Layout,
    describe,
    engine_image,
    gguf_file,
    gpu_resources,
    hf_cache_dir,
    needs_prequantized,
    served_path,
)
from planner.deploy.leaderworkerset import leaderworkerset
from planner.deploy.ollama import modelfile, ollama_env
from planner.deploy.render import comment, to_yaml_all
from planner.deploy.tensorrt_llm import trtllm_extra


def kubernetes_yaml(lay: Layout) -> str:
    header = [comment(describe(lay)), f"# kubectl apply -f kubernetes.yaml   (GPU scheduling: {DOCS['k8s-gpu']})",
              "# Hugging Face token, if the model is gated: kubectl create secret generic hf-token --from-literal=token=...",]
    if lay.multi_node:
        if lay.engine not in {"vllm", "sglang"}:
            raise DeploymentError(f"A {lay.gpus}-GPU replica spans nodes; only vLLM and SGLang layouts are generated for that.")
        header.append(f"# Multi-node replica: a LeaderWorkerSet (install LWS first: https://lws.sigs.k8s.io/docs/installation/), "
                      f"per {DOCS['vllm-lws']}.")
        docs = ([_models_pvc(lay)] if needs_prequantized(lay) else []) + [
            leaderworkerset(lay), _service(lay, {"leaderworkerset.sigs.k8s.io/name": lay.name, "role": "leader"})]
    else:
        docs = []
        if lay.is_gguf or needs_prequantized(lay):
            docs.append(_models_pvc(lay))
        if lay.engine == "ollama":
            docs.append(_config_map(f"{lay.name}-modelfile", "Modelfile", modelfile(lay)))
        if lay.engine == "tensorrt-llm" and lay.kv_cache_dtype == "fp8":
            docs.append(_config_map(f"{lay.name}-trtllm-extra", "trtllm-extra.yaml", trtllm_extra()))
        docs += [_k8s_deployment(lay), _service(lay, {"app": lay.name})]
        if lay.replicas > 1:
            docs.append(_disruption_budget(lay))
    return "\n".join(header) + "\n" + to_yaml_all(docs)


def _disruption_budget(lay: Layout) -> dict:
    """At most one replica down at a time for voluntary disruptions (node drains, upgrades)."""
    return {"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": {"name": lay.name},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": lay.name}}}}


def _spread(lay: Layout) -> dict:
    """Replicas on different nodes: a failed node takes one replica, not the service."""
    return {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"labelSelector": {"matchLabels": {"app": lay.name}}, "topologyKey": "kubernetes.io/hostname"}]}}


def _k8s_deployment(lay: Layout) -> dict:
    command, args = container_args(lay)
    container: dict = {"name": lay.engine.replace(".", ""), "image": engine_image(lay)}
    if command:
        container["command"] = command
    if args:
        container["args"] = args
    env = [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}}]
    if lay.engine == "ollama":
        env += [{"name": k, "value": v} for k, v in ollama_env(lay).items()]
    container["env"] = env
    container["ports"] = [{"containerPort": lay.port, "name": "http"}]
    container["resources"] = gpu_resources(lay, lay.gpus)
    container["readinessProbe"] = {"httpGet": {"path": HEALTH_PATHS[lay.engine], "port": lay.port},
                                   "initialDelaySeconds": 30, "periodSeconds": 10}
    mounts, volumes = _k8s_volumes(lay)
    container["volumeMounts"] = mounts
    if lay.engine == "tensorrt-llm" and lay.kv_cache_dtype == "fp8":
        container["workingDir"] = "/workspace"  # --extra_llm_api_options names the file relative to it
    pod = {"containers": [container], "volumes": volumes}
    if lay.replicas > 1:
        pod["affinity"] = _spread(lay)
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": lay.name, "labels": {"app": lay.name}},
            "spec": {"replicas": lay.replicas, "selector": {"matchLabels": {"app": lay.name}},
                     "template": {"metadata": {"labels": {"app": lay.name}}, "spec": pod}}}


def _k8s_volumes(lay: Layout) -> tuple[list[dict], list[dict]]:
    shm = ({"name": "dshm", "mountPath": "/dev/shm"}, {"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "16Gi"}})
    if lay.is_gguf:
        mounts = [{"name": "models", "mountPath": "/models"}]
        volumes = [{"name": "models", "persistentVolumeClaim": {"claimName": f"{lay.name}-models"}}]
        if lay.engine == "ollama":
            mounts.append({"name": "modelfile", "mountPath": "/models/Modelfile", "subPath": "Modelfile"})
            volumes.append({"name": "modelfile", "configMap": {"name": f"{lay.name}-modelfile"}})
        return mounts, volumes
    cache_gib = math.ceil(lay.weights_gib * 1.3) + 10
    mounts = [{"name": "hf-cache", "mountPath": hf_cache_dir(lay)}, shm[0]]
    volumes = [{"name": "hf-cache", "emptyDir": {"sizeLimit": f"{cache_gib}Gi"}}, shm[1]]
    if needs_prequantized(lay):
        mounts.append({"name": "models", "mountPath": "/models"})
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": f"{lay.name}-models"}})
    if lay.engine == "tensorrt-llm" and lay.kv_cache_dtype == "fp8":
        mounts.append({"name": "trtllm-extra", "mountPath": "/workspace/trtllm-extra.yaml", "subPath": "trtllm-extra.yaml"})
        volumes.append({"name": "trtllm-extra", "configMap": {"name": f"{lay.name}-trtllm-extra"}})
    return mounts, volumes


def _config_map(name: str, key: str, text: str) -> dict:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {key: text}}


def _models_pvc(lay: Layout) -> dict:
    size = math.ceil(lay.weights_gib * 1.2) + 5
    contents = (f"copy {gguf_file(lay)} here (prepare-gguf.sh makes it)" if lay.is_gguf
                else f"put the {lay.quant} checkpoint at {served_path(lay)}")
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{lay.name}-models", "annotations": {"planner/contents": contents}},
            "spec": {"accessModes": ["ReadWriteMany" if lay.replicas > 1 else "ReadWriteOnce"],
                     "resources": {"requests": {"storage": f"{size}Gi"}}}}


def _service(lay: Layout, selector: dict) -> dict:
    name = f"{lay.name}-leader" if "role" in selector else lay.name
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": "ClusterIP", "selector": selector,
                     "ports": [{"name": "http", "port": lay.port, "targetPort": lay.port, "protocol": "TCP"}]}}
