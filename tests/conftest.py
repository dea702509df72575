import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Models a user adds with `add-model` live in a file of their own; tests never read or write the real one.
import os  # noqa: E402
import tempfile  # noqa: E402

os.environ.setdefault("PLANNER_USER_MODELS_FILE", str(Path(tempfile.mkdtemp(prefix="planner-user-models-")) / "models.json"))
