import planner


def test_all_is_complete_and_importable():
    for name in planner.__all__:
        assert hasattr(planner, name), name
    public = {n for n in dir(planner) if not n.startswith("_") and n[0].isupper()}
    missing = public - set(planner.__all__)
    assert not missing, f"public names missing from __all__: {missing}"


def test_core_never_imports_streamlit():
    from pathlib import Path

    for path in Path(planner.__file__).parent.rglob("*.py"):
        assert "import streamlit" not in path.read_text(encoding="utf-8"), path
