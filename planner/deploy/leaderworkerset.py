"""A replica spanning nodes: a LeaderWorkerSet (one group per replica, one pod per node) as in vLLM's LWS
guide, vLLM on a Ray cluster or SGLang with its own multi-node flags; and the Ray commands for the report."""

from __future__ import annotations

from planner.deploy.layout import Layout, engine_image, gpu_resources, needs_prequantized
from planner.deploy.render import join
from planner.deploy.sglang import sglang_args
from planner.deploy.vllm import vllm_args


def leaderworkerset(lay: Layout) -> dict:
    """LeaderWorkerSet: one group per replica, one pod per node (vLLM's LWS guide, Ray variant)."""
    image = engine_image(lay)
    shm_mount = {"name": "dshm", "mountPath": "/dev/shm"}
    volumes = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "15Gi"}}]
    mounts = [shm_mount]
    if needs_prequantized(lay):  # a checkpoint the user quantized: every pod reads it where the command names it
        mounts.append({"name": "models", "mountPath": "/models", "readOnly": True})
        volumes.append({"name": "models", "persistentVolumeClaim": {"claimName": f"{lay.name}-models"}})
    env = [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf-token", "key": "token", "optional": True}}}]
    resources = gpu_resources(lay, lay.gpus_per_node)
    if lay.engine == "vllm":
        find = ("S=/vllm-workspace/examples/online_serving/multi-node-serving.sh; "
                "[ -f $S ] || S=/vllm-workspace/examples/ray_serving/multi-node-serving.sh; ")
        leader_cmd = find + "bash $S leader --ray_cluster_size=$(LWS_GROUP_SIZE); " + join(vllm_args(lay), indent=None)
        worker_cmd = find + "bash $S worker --ray_address=$(LWS_LEADER_ADDRESS)"
    else:
        leader_cmd = join(sglang_args(lay, 0, "$(LWS_LEADER_ADDRESS):20000"), indent=None)
        worker_cmd = leader_cmd.replace("--node-rank 0", "--node-rank $(LWS_WORKER_INDEX)")
    leader = {"name": f"{lay.engine}-leader", "image": image, "command": ["sh", "-c", leader_cmd], "env": env,
              "resources": resources, "ports": [{"containerPort": lay.port}],
              "readinessProbe": {"tcpSocket": {"port": lay.port}, "initialDelaySeconds": 15, "periodSeconds": 10},
              "volumeMounts": mounts}
    worker = {"name": f"{lay.engine}-worker", "image": image, "command": ["sh", "-c", worker_cmd], "env": env,
              "resources": resources, "volumeMounts": mounts}
    return {"apiVersion": "leaderworkerset.x-k8s.io/v1", "kind": "LeaderWorkerSet", "metadata": {"name": lay.name},
            "spec": {"replicas": lay.replicas, "leaderWorkerTemplate": {
                "size": lay.nodes, "restartPolicy": "RecreateGroupOnPodRestart",
                "leaderTemplate": {"metadata": {"labels": {"role": "leader"}}, "spec": {"containers": [leader], "volumes": volumes}},
                "workerTemplate": {"spec": {"containers": [worker], "volumes": volumes}}}}}


def ray_leader_command(lay: Layout) -> str:
    return (f"bash multi-node-serving.sh leader --ray_cluster_size={lay.nodes} && " + join(vllm_args(lay), indent=None))


def ray_worker_command(address: str) -> str:
    return f"bash multi-node-serving.sh worker --ray_address={address}"
