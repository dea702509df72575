"""The catalogue: data rows as validated records, loaded once; custom models from config.json; GPUs on this machine."""
