"""Streamlit helpers shared by the pages: session state and URL sync, the constraints form, renderers.

Kept outside `pages/` so Streamlit never mistakes a helper for a page. The planner core
(`planner/`) never imports this package.
"""
