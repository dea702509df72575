"""Hardware: the GPUs on this machine (NVML), offered as the "GPUs I own" constraint."""

import pandas as pd
import streamlit as st

from planner.catalog.local_gpus import detect_gpus, match_catalog_gpu, owned_constraint
from ui import state

state.ensure_framed()

st.title("Hardware on this machine")
catalog = state.session_catalog()
detection = detect_gpus()

if not detection.gpus:
    st.info(f"**No NVIDIA GPU was found on this machine.** {detection.reason or ''}\n\n"
            "Plans rent cloud GPUs by default; to plan for GPUs you own elsewhere, choose them on the Plan page "
            "under *Hardware and budget → Use GPUs I own*.", icon=":material/info:")
else:
    rows = []
    for gpu in detection.gpus:
        match = match_catalog_gpu(gpu.name, gpu.memory_gib, catalog)
        rows.append({"index": gpu.index, "name": gpu.name, "memory_gib": gpu.memory_gib,
                     "catalogue_gpu": match.id if match else "no match"})
    st.write(f"NVML found {len(detection.gpus)} GPU(s)" + (f" (driver {detection.driver_version})." if detection.driver_version else "."))
    st.dataframe(pd.DataFrame(rows), hide_index=True, key="hardware_table", column_config={
        "index": "#", "name": "Name (NVML)",
        "memory_gib": st.column_config.NumberColumn("Memory (GiB)", format="%.1f"),
        "catalogue_gpu": "Catalogue GPU"})
    owned, unmatched = owned_constraint(detection.gpus, catalog)
    if unmatched:
        st.warning("Not in the catalogue, so left out: " + ", ".join(f"{g.name} ({g.memory_gib:.0f} GiB)" for g in unmatched))
    if owned and st.button("Use these GPUs as “GPUs I own”", key="use_detected_gpus", type="primary"):
        state.set_values({state.HARDWARE_MODE: "own", state.GPUS_OWNED: [g["gpu"] for g in owned],
                          "gpu_counts": {g["gpu"]: g["count"] for g in owned}})
        st.success("The Plan page now plans on " + ", ".join(f"{g['count']} × {catalog.gpus[g['gpu']].name}" for g in owned) + ".")
        st.page_link("pages/plan.py", label="See the plan", icon=":material/assignment:")
