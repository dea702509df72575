"""planner.deploy.compose: docker-compose.yaml, read back with PyYAML."""

from __future__ import annotations

import pytest
import yaml

from planner.deploy.compose import compose_yaml
from planner.deploy.container import container_args
from planner.deploy.sglang import sglang_args

from .support import bash_syntax_ok, make_layout, two_node_layout


def services(lay) -> dict[str, dict]:
    text = compose_yaml(lay)
    assert "&id" not in text and "*id" not in text  # repeated blocks written out, no anchors
    doc = yaml.safe_load(text)
    assert set(doc) <= {"services", "volumes"}
    return doc["services"]


def nvidia_devices(service: dict) -> dict:
    (devices,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert devices["driver"] == "nvidia" and devices["capabilities"] == ["gpu"]
    return devices


@pytest.mark.parametrize("engine", ["vllm", "sglang", "tgi", "tensorrt-llm", "llama.cpp"])
def test_one_service_runs_what_the_container_runs(engine):
    lay = make_layout(engine=engine, quant_format="gguf" if engine == "llama.cpp" else "float", gpus=2, tensor_parallel=2)
    (service,) = services(lay).values()
    command, args = container_args(lay)
    assert service["command"] == (command or args)
    assert nvidia_devices(service) == {"driver": "nvidia", "count": 2, "capabilities": ["gpu"]}
    assert service["restart"] == "unless-stopped"
    host_port = 8080 if engine == "tgi" else lay.port
    assert service["ports"] == [f"{host_port}:{lay.port}"]


def test_replicas_that_fit_one_host_are_pinned_to_their_own_gpus():
    found = services(make_layout(gpus=2, tensor_parallel=2, replicas=3))
    assert list(found) == ["llama-3-1-8b-instruct-1", "llama-3-1-8b-instruct-2", "llama-3-1-8b-instruct-3"]
    assert [nvidia_devices(s)["device_ids"] for s in found.values()] == [["0", "1"], ["2", "3"], ["4", "5"]]
    assert [s["ports"] for s in found.values()] == [["8000:8000"], ["8001:8000"], ["8002:8000"]]


def test_replicas_that_do_not_fit_one_host_are_one_service_with_a_count():
    text = compose_yaml(make_layout(gpus=4, tensor_parallel=4, replicas=3))
    assert "The plan runs 3 replicas of this service: one per host" in text
    (service,) = yaml.safe_load(text)["services"].values()
    assert nvidia_devices(service)["count"] == 4


def test_amd_and_cpu_devices():
    (amd,) = services(make_layout(vendor="amd", gpu="mi300x")).values()
    assert amd["devices"] == ["/dev/kfd", "/dev/dri"] and amd["group_add"] == ["video"] and "deploy" not in amd
    (cpu,) = services(make_layout(engine="llama.cpp", quant_format="gguf", vendor="cpu")).values()
    assert "deploy" not in cpu and "devices" not in cpu


def test_ollama_serves_and_a_second_service_creates_the_model():
    doc = yaml.safe_load(compose_yaml(make_layout(engine="ollama", quant_format="gguf", quant="q4_k_m")))
    server, create = doc["services"].values()
    assert "command" not in server and server["environment"]["OLLAMA_NUM_PARALLEL"] == "16"
    assert create["depends_on"] == ["llama-3-1-8b-instruct"]
    assert create["entrypoint"] == ["ollama"] and create["command"] == ["create", "llama-3-1-8b-instruct:q4_k_m", "-f", "Modelfile"]
    assert doc["volumes"] == {"ollama": {}}


def test_trtllm_fp8_cache_mounts_the_extra_options_file():
    (service,) = services(make_layout(engine="tensorrt-llm", kv_cache_dtype="fp8")).values()
    assert "./trtllm-extra.yaml:/workspace/trtllm-extra.yaml:ro" in service["volumes"]
    assert service["working_dir"] == "/workspace"


def test_two_node_vllm_is_a_leader_and_a_worker_on_the_host_network():
    found = services(two_node_layout())
    leader, worker = found["llama-3-1-405b-instruct-leader"], found["llama-3-1-405b-instruct-worker"]
    for service in (leader, worker):
        assert service["network_mode"] == "host" and nvidia_devices(service)["count"] == 8
        assert service["entrypoint"] == ["sh", "-c"]
        # compose turns $$ into $; what is left is a shell line
        bash_syntax_ok(service["command"][0].replace("$$", "$"))
    assert "leader --ray_cluster_size=2 && vllm serve" in leader["command"][0]
    assert "worker --ray_address=${LEADER_ADDRESS:?set LEADER_ADDRESS}" in worker["command"][0]


def test_two_node_sglang_gives_each_node_its_rank():
    lay = two_node_layout(engine="sglang", tensor_parallel=16, pipeline_parallel=1)
    leader, worker = services(lay).values()
    assert leader["command"] == sglang_args(lay, 0, "${LEADER_ADDRESS:?set LEADER_ADDRESS}:20000")
    assert worker["command"] == sglang_args(lay, 1, "${LEADER_ADDRESS:?set LEADER_ADDRESS}:20000")
