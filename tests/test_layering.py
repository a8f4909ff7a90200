"""The package boundaries of STYLE.md hold: the import contracts in pyproject.toml ([tool.importlinter]).

tenants never imports botcore; the sandbox and botcore share nothing (the two readings of the contract meet
only over HTTP); only botcore.vibe speaks the platform's wire format. `.ci/gates` runs the same check as
`lint-imports`; this test keeps it in the suite for whoever runs only pytest.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from importlinter.cli import lint_imports

ROOT = Path(__file__).resolve().parents[1]


def test_the_import_contracts_hold(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(ROOT)
    exit_code = lint_imports(config_filename=str(ROOT / "pyproject.toml"), no_cache=True, no_logo=True)
    assert exit_code == 0, capsys.readouterr().out
