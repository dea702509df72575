"""Which (model, format, engine, device) combinations exist in the world, from the engine support matrix
(planner.catalog.engine_support): the engine is maintained, runs the model's architecture on the device's
hardware class in that weight format, and the device meets the compute-capability floor. Anything the
matrix does not list as supported ("unknown" included) is not a candidate; the plan says why."""

from __future__ import annotations

import numpy as np

from planner.catalog.engine_support import EngineSupport, default_support, hardware_class_of
from planner.catalog.records import Engine, Gpu, ModelSpec, Quant


def support_mask(models: list[ModelSpec], pairs: list[tuple[Quant, Engine]], devices: list[Gpu],
                 matrix: EngineSupport | None = None) -> np.ndarray:
    """(model, pair, device) -> supported, as booleans. Computed per distinct architecture and (class, compute
    capability) and cached, so a plan pays a few array gathers."""
    matrix = matrix or default_support()
    archs = sorted({m.hf_architecture or "" for m in models})
    arch_of = np.array([archs.index(m.hf_architecture or "") for m in models], dtype=int)
    kinds = sorted({_device_key(g) for g in devices})
    kind_of = np.array([kinds.index(_device_key(g)) for g in devices], dtype=int)
    keys = tuple((q.id, e.id) for q, e in pairs)
    key = (id(matrix), tuple(archs), keys, tuple(kinds))
    table = _TABLES.get(key)
    if table is None:  # (arch, pair, device kind); the matrix is read once per process, so this is a few tables
        if len(_TABLES) > 32:
            _TABLES.clear()
        table = _TABLES[key] = _table(matrix, *key[1:])
    return table[arch_of][:, :, kind_of]


_TABLES: dict[tuple, np.ndarray] = {}


def _device_key(gpu: Gpu) -> tuple[str, float]:
    return hardware_class_of(gpu.kind, gpu.vendor), float(gpu.compute_capability or 0.0)


def _table(matrix: EngineSupport, archs: tuple[str, ...], pairs: tuple[tuple[str, str], ...],
           kinds: tuple[tuple[str, float], ...]) -> np.ndarray:
    out = matrix.supported_table(list(archs), list(pairs), list(kinds))
    out.setflags(write=False)
    return out

