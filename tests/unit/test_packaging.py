"""The wheel carries every template and static file (they live beside webapp/, not inside it)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_wheel_includes_templates_and_static(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"share/offering-keycloak-groups/{path.relative_to(REPO).as_posix()}"
        for folder in ("templates", "static")
        for path in (REPO / folder).rglob("*")
        if path.is_file()
    }
    missing = sorted(name for name in expected if not any(entry.endswith(name) for entry in names))
    assert missing == []
    assert any(name.startswith("webapp/") for name in names)
