"""The dashboard's frame: page config, shared state, navigation, the shared sidebar.

Pages live in pages/ and are listed explicitly; the Probe and Export pages are added by other
parts of the project and appear here only once their files exist.
"""

from pathlib import Path

import streamlit as st

from planner.runtime import keep_freed_memory
from ui import render, state
from ui.text import plain

keep_freed_memory()  # plans reuse heap memory instead of faulting in fresh pages (planner/runtime.py)

HERE = Path(__file__).resolve().parent

# A local image, not a material icon name: Streamlit fetches those favicons from fonts.gstatic.com,
# and the dashboard makes no network call of its own.
st.set_page_config(page_title="Open-Weights Deployment Planner", page_icon=str(HERE / "ui" / "static" / "icon.png"),
                   layout="wide")

# No custom url_path: a cold server resolves the first deep link against the pages/ file names
# before st.navigation has run, so paths must be the file stems ("whatif", not "what-if").
PAGES = [
    ("pages/plan.py", "Plan", ":material/assignment:"),
    ("pages/whatif.py", "What-if", ":material/tune:"),
    ("pages/compare.py", "Compare", ":material/compare_arrows:"),
    ("pages/catalogue.py", "Catalogue", ":material/menu_book:"),
    ("pages/hardware.py", "Hardware", ":material/developer_board:"),
    ("pages/finetune.py", "Fine-tuning", ":material/model_training:"),
    ("pages/accuracy.py", "Accuracy", ":material/query_stats:"),
    # Added by other parts of the project; listed once their files exist.
    ("pages/probe.py", "Probe", ":material/speed:"),
    ("pages/monitor.py", "Monitor", ":material/monitor_heart:"),
    ("pages/export.py", "Export", ":material/download:"),
]

with state.framing():
    state.init()
    pages = [st.Page(path, title=title, icon=icon, default=(i == 0))
             for i, (path, title, icon) in enumerate(PAGES) if (HERE / path).exists()]
    navigation = st.navigation(pages)
    if st.session_state.get(state.URL_WARNING):
        st.warning(plain(st.session_state.pop(state.URL_WARNING)), icon=":material/link_off:")
    navigation.run()
    render.shared_sidebar()
    state.sync_query_params()
