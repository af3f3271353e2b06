"""Schemathesis names its items by operation ("test_api_conforms_to_its_schema[GET /api/…]") but gives all of them
the node id of the test function. pytest-xdist tells tests apart by node id (with 51 alike it ran one), and so do
--deselect and the reports: each item's node id gets its operation back."""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        _name, bracket, params = item.name.partition("[")
        if not bracket or item.nodeid.endswith("]"):
            continue
        node_id = getattr(item, "_id", None)
        if node_id is not None and hasattr(node_id, "with_params"):  # pytest 9.2+: a structured NodeId
            item._id = node_id.with_params(params.removesuffix("]"))
        else:
            item._nodeid = f"{item.nodeid}[{params}"
