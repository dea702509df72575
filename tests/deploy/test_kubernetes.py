"""planner.deploy.kubernetes: kubernetes.yaml, read back with PyYAML."""

from __future__ import annotations

import pytest
import yaml

from planner.deploy.container import container_args
from planner.deploy.kubernetes import kubernetes_yaml
from planner.deploy.layout import DeploymentError
from planner.deploy.ollama import modelfile

from .support import make_layout, two_node_layout


def manifests(lay) -> dict[str, dict]:
    text = kubernetes_yaml(lay)
    assert "&id" not in text and "*id" not in text
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert all({"apiVersion", "kind", "metadata"} <= set(d) for d in docs)
    kinds = [d["kind"] for d in docs]
    assert len(kinds) == len(set(kinds))  # at most one of each kind
    return {d["kind"]: d for d in docs}


def container(deployment: dict) -> dict:
    (found,) = deployment["spec"]["template"]["spec"]["containers"]
    return found


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tgi", "tensorrt-llm", "llama.cpp", "ollama"])
def test_a_deployment_and_a_service_for_every_engine(engine):
    gguf = engine in {"llama.cpp", "ollama"}
    lay = make_layout(engine=engine, quant_format="gguf" if gguf else "float", quant="q4_k_m" if gguf else "bf16",
                      gpus=2, tensor_parallel=2, replicas=3)
    found = manifests(lay)
    deployment, service = found["Deployment"], found["Service"]
    assert deployment["apiVersion"] == "apps/v1" and deployment["spec"]["replicas"] == 3
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"] == labels == service["spec"]["selector"] == {"app": lay.name}
    assert service["spec"]["ports"] == [{"name": "http", "port": lay.port, "targetPort": lay.port, "protocol": "TCP"}]
    c = container(deployment)
    command, args = container_args(lay)
    assert c.get("command") == command and c.get("args", []) == args
    assert c["resources"] == {"limits": {"nvidia.com/gpu": 2}}
    assert c["ports"] == [{"containerPort": lay.port, "name": "http"}]
    assert {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}} in c["env"]
    mounted = {m["name"] for m in c["volumeMounts"]}
    assert mounted == {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert ("PersistentVolumeClaim" in found) == gguf


def test_local_weights_get_a_claim_shared_by_the_replicas():
    found = manifests(make_layout(quant="awq-int4", replicas=2))
    pvc = found["PersistentVolumeClaim"]
    assert pvc["metadata"]["name"] == "llama-3-1-8b-instruct-models"
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["metadata"]["annotations"]["planner/contents"] == "put the awq-int4 checkpoint at /models/Llama-3.1-8B-Instruct-AWQ-INT4"
    assert manifests(make_layout(quant="awq-int4"))["PersistentVolumeClaim"]["spec"]["accessModes"] == ["ReadWriteOnce"]


def test_ollama_mounts_its_modelfile_from_a_config_map():
    lay = make_layout(engine="ollama", quant_format="gguf", quant="q4_k_m")
    found = manifests(lay)
    assert found["ConfigMap"]["data"] == {"Modelfile": modelfile(lay)}
    c = container(found["Deployment"])
    assert {"name": "modelfile", "mountPath": "/models/Modelfile", "subPath": "Modelfile"} in c["volumeMounts"]
    assert {"name": "OLLAMA_NUM_PARALLEL", "value": "16"} in c["env"]


def test_trtllm_fp8_cache_reads_its_options_file_from_a_config_map():
    found = manifests(make_layout(engine="tensorrt-llm", kv_cache_dtype="fp8"))
    assert yaml.safe_load(found["ConfigMap"]["data"]["trtllm-extra.yaml"]) == {"kv_cache_config": {"dtype": "fp8"}}
    assert container(found["Deployment"])["workingDir"] == "/workspace"


def test_vendors_ask_for_their_resource_and_cpus_for_memory():
    assert container(manifests(make_layout(vendor="amd", gpus=2))["Deployment"])["resources"] == {"limits": {"amd.com/gpu": 2}}
    cpu = container(manifests(make_layout(engine="llama.cpp", quant_format="gguf", vendor="cpu"))["Deployment"])
    assert cpu["resources"] == {"requests": {"cpu": "8", "memory": f"{18 + 8}Gi"}}  # ceil(15 GiB × 1.2) + 8


def test_a_replica_across_nodes_is_a_leaderworkerset_behind_the_leader():
    found = manifests(two_node_layout())
    assert set(found) == {"LeaderWorkerSet", "Service"}
    assert found["Service"]["metadata"]["name"] == "llama-3-1-405b-instruct-leader"
    assert found["Service"]["spec"]["selector"] == {"leaderworkerset.sigs.k8s.io/name": "llama-3-1-405b-instruct", "role": "leader"}


@pytest.mark.parametrize("engine", ["tgi", "tensorrt-llm", "llama.cpp"])
def test_only_vllm_and_sglang_span_nodes(engine):
    with pytest.raises(DeploymentError, match="spans nodes"):
        kubernetes_yaml(two_node_layout(engine=engine))
