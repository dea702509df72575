"""The plan as deployment files: engine commands, docker compose, Kubernetes."""
