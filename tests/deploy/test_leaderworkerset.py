"""planner.deploy.leaderworkerset: the two-node LeaderWorkerSet (vLLM on Ray, SGLang) and the Ray commands."""

from __future__ import annotations

import shlex

import yaml

from planner.deploy.leaderworkerset import leaderworkerset, ray_leader_command, ray_worker_command
from planner.deploy.render import to_yaml
from planner.deploy.vllm import vllm_args

from .support import bash_syntax_ok, option, two_node_layout


def pods(lws: dict) -> tuple[dict, dict]:
    template = lws["spec"]["leaderWorkerTemplate"]
    (leader,) = template["leaderTemplate"]["spec"]["containers"]
    (worker,) = template["workerTemplate"]["spec"]["containers"]
    return leader, worker


def test_one_group_per_replica_one_pod_per_node():
    lay = two_node_layout(replicas=2)
    lws = yaml.safe_load(to_yaml(leaderworkerset(lay)))
    assert lws["apiVersion"] == "leaderworkerset.x-k8s.io/v1" and lws["kind"] == "LeaderWorkerSet"
    assert lws["spec"]["replicas"] == 2
    template = lws["spec"]["leaderWorkerTemplate"]
    assert template["size"] == 2 and template["restartPolicy"] == "RecreateGroupOnPodRestart"
    assert template["leaderTemplate"]["metadata"]["labels"] == {"role": "leader"}
    leader, worker = pods(lws)
    for pod in (leader, worker):
        assert pod["resources"] == {"limits": {"nvidia.com/gpu": 8}}  # one node's GPUs each
        assert pod["command"][:2] == ["sh", "-c"]
        bash_syntax_ok(pod["command"][2])
    assert leader["readinessProbe"]["tcpSocket"]["port"] == 8000 and "readinessProbe" not in worker


def test_vllm_leader_starts_ray_then_serves_and_workers_join_it():
    lay = two_node_layout()
    leader, worker = pods(leaderworkerset(lay))
    *_, serve = leader["command"][2].split("; ")
    assert "bash $S leader --ray_cluster_size=$(LWS_GROUP_SIZE)" in leader["command"][2]
    assert shlex.split(serve) == vllm_args(lay)
    assert worker["command"][2].endswith("bash $S worker --ray_address=$(LWS_LEADER_ADDRESS)")


def test_sglang_workers_take_their_rank_from_the_group():
    leader, worker = pods(leaderworkerset(two_node_layout(engine="sglang", tensor_parallel=16, pipeline_parallel=1)))
    leader_args = shlex.split(leader["command"][2])
    assert option(leader_args, "--node-rank") == "0" and option(leader_args, "--dist-init-addr") == "$(LWS_LEADER_ADDRESS):20000"
    assert option(shlex.split(worker["command"][2]), "--node-rank") == "$(LWS_WORKER_INDEX)"


def test_ray_commands_for_the_report():
    lay = two_node_layout()
    start, serve = ray_leader_command(lay).split(" && ")
    assert shlex.split(start) == ["bash", "multi-node-serving.sh", "leader", "--ray_cluster_size=2"]
    assert shlex.split(serve) == vllm_args(lay)
    assert shlex.split(ray_worker_command("10.0.0.1")) == ["bash", "multi-node-serving.sh", "worker", "--ray_address=10.0.0.1"]
