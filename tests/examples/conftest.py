"""The examples under docs/examples/ are skill packages as a vendor keeps them: importable once their folder
is on the path (as `PYTHONPATH=docs/examples` does for a stack), with the project's sandbox fixtures
(docs/skills.md §13)."""

import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))

from tests.botcore.conftest import sandbox_portal  # noqa: E402, F401 (fixtures pytest finds by name)
from tests.botcore.skills.conftest import skill_paths, world  # noqa: E402, F401
from tests.botcore.skills.loopback_service import listener, resolver  # noqa: E402, F401
