"""API handlers run no SQL: they parse, call the service that owns the query, and serialize.

A scan of the source, not of behaviour: a module under webapp/api/ may name sqlalchemy's `Select` in a type
hint (the generic paginator and ordering take one built by a service), and nothing else of sqlalchemy; it may
not import the session (`db` from extensions) nor touch `.session`. The paginator, which counts and slices any
query it is given, is the one exception.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[2] / "webapp" / "api"
# Generic over any Select a service builds: one COUNT and one page.
ALLOWED = {"pagination.py"}
TYPE_ONLY = {"Select"}


def problems(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [f"line {node.lineno}: import {a.name}" for a in node.names if a.name.startswith("sqlalchemy")]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            names = {alias.name for alias in node.names}
            if module.startswith("sqlalchemy") and (module != "sqlalchemy" or names - TYPE_ONLY):
                found.append(f"line {node.lineno}: from {module} import {', '.join(sorted(names))}")
            if module.endswith("extensions") and "db" in names:
                found.append(f"line {node.lineno}: imports the session (db)")
        elif isinstance(node, ast.Attribute) and node.attr == "session":
            found.append(f"line {node.lineno}: uses .session")
    return found


@pytest.mark.parametrize("path", sorted(API.glob("*.py")), ids=lambda path: path.name)
def test_api_module_runs_no_sql(path: Path) -> None:
    if path.name in ALLOWED:
        return
    assert problems(path.read_text()) == [], f"webapp/api/{path.name}: move the query into a service"


def test_the_scan_finds_what_it_forbids() -> None:
    source = (
        "from sqlalchemy import Select, select\nfrom sqlalchemy.orm import joinedload\nimport sqlalchemy\n"
        "from ..extensions import db\nx = db.session.scalar(q)\n"
    )
    assert len(problems(source)) == 5
    assert problems("from sqlalchemy import Select\n") == []


def test_the_allowed_modules_exist() -> None:
    assert {path.name for path in API.glob("*.py")} >= ALLOWED
