"""The membership lifecycle (services/memberships/lifecycle.py): its table of transitions, the refusal of every
transition from a state it does not start from, and a scan of webapp/ showing no other module writes a membership state.

Runs in memory: rows are built without a session, and a refused transition raises before it writes anything.
"""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest

from webapp.models import OfferingKeycloakMembership
from webapp.services.memberships import lifecycle
from webapp.services.memberships.lifecycle import ABSENT, IllegalTransition, MembershipState, Transition

PENDING, ACTIVE, REMOVED = MembershipState.PENDING, MembershipState.ACTIVE, MembershipState.REMOVED_REMOTELY
EXPIRED = MembershipState.EXPIRED
EVERY_STATE = [ABSENT, *MembershipState]
NOW = datetime(2026, 12, 4, tzinfo=UTC)
WEBAPP = Path(__file__).resolve().parents[2] / "webapp"

# The whole lifecycle, written out: (transition, from, to). A new state or transition changes this table on
# purpose, in the same commit as lifecycle.TRANSITIONS.
ALLOWED = {
    (Transition.GRANT, ABSENT, ACTIVE),
    (Transition.GRANT_PENDING, ABSENT, PENDING),
    (Transition.RECORD, ABSENT, ACTIVE),
    (Transition.ACTIVATE, PENDING, ACTIVE),
    (Transition.FLAG_REMOVED, ACTIVE, REMOVED),
    (Transition.RESTORE, REMOVED, ACTIVE),
    (Transition.CONFIRM, PENDING, ACTIVE),
    (Transition.CONFIRM, ACTIVE, ACTIVE),
    (Transition.CONFIRM, REMOVED, ACTIVE),
    (Transition.REVOKE, PENDING, ABSENT),
    (Transition.REVOKE, ACTIVE, ABSENT),
    (Transition.REVOKE, REMOVED, ABSENT),
    (Transition.REVOKE, EXPIRED, ABSENT),
    (Transition.EXPIRE, PENDING, EXPIRED),
    (Transition.EXPIRE, ACTIVE, EXPIRED),
    (Transition.EXPIRE, REMOVED, EXPIRED),
}


def test_the_table_is_the_lifecycle() -> None:
    table = {(name, source, move.target) for name, move in lifecycle.TRANSITIONS.items() for source in move.sources}
    assert table == ALLOWED
    assert set(lifecycle.TRANSITIONS) == set(Transition)


@pytest.mark.parametrize("transition", list(Transition))
@pytest.mark.parametrize("state", EVERY_STATE)
def test_each_transition_starts_only_where_the_table_says(
    transition: Transition, state: MembershipState | None
) -> None:
    allowed = {to for name, source, to in ALLOWED if name == transition and source == state}
    given = None if state is None else state.value  # as the column holds it
    if allowed:
        assert lifecycle.target(transition, given) in allowed
    else:
        with pytest.raises(IllegalTransition) as refused:
            lifecycle.target(transition, given)
        assert refused.value.transition is transition and refused.value.state == state


def _row(state: MembershipState | None) -> OfferingKeycloakMembership:
    return OfferingKeycloakMembership(username="ann", state=None if state is None else state.value)


ONE_ROW = {
    Transition.ACTIVATE: lambda row: lifecycle.activate(None, row, None),  # type: ignore[arg-type]
    Transition.FLAG_REMOVED: lifecycle.flag_removed,
    Transition.RESTORE: lifecycle.restore,
    Transition.GRANT: lambda row: lifecycle.grant(None, None, row, None, 0),  # type: ignore[arg-type]
    Transition.GRANT_PENDING: lambda row: lifecycle.grant_pending(None, None, row),  # type: ignore[arg-type]
    Transition.REVOKE: lambda row: lifecycle.revoke(None, None, row),  # type: ignore[arg-type]
    Transition.EXPIRE: lambda row: lifecycle.expire(None, row, in_keycloak=False),  # type: ignore[arg-type]
}


REFUSED = [
    (transition, state)
    for transition in ONE_ROW
    for state in EVERY_STATE
    if not any(name == transition and source == state for name, source, _ in ALLOWED)
]


@pytest.mark.parametrize(("transition", "state"), REFUSED)
def test_a_refused_transition_leaves_the_row_as_it_was(transition: Transition, state: MembershipState | None) -> None:
    row = _row(state)
    with pytest.raises(IllegalTransition):
        ONE_ROW[transition](row)
    assert row.state == (None if state is None else state.value)
    assert row.keycloak_user_id is None and row.error_message is None  # nothing else was written either


def test_reconcile_flags_restores_or_only_checks() -> None:
    gone, back, still = _row(ACTIVE), _row(REMOVED), _row(PENDING)
    assert lifecycle.reconciled(gone, False, NOW) is Transition.FLAG_REMOVED and gone.state == REMOVED
    assert lifecycle.reconciled(back, True, NOW) is Transition.RESTORE and back.state == ACTIVE
    assert lifecycle.reconciled(still, True, NOW) is None and still.state == PENDING
    assert gone.last_checked == back.last_checked == still.last_checked == NOW


def test_rows_for_plain_statements() -> None:
    details = lifecycle.FromKeycloak("ann@example.org", "Ann", "Lee", "u-1")
    new = lifecycle.recorded_row(7, "ann", details, NOW)
    assert new["state"] == "active" and new["group_id"] == 7 and new["keycloak_user_id"] == "u-1"
    assert set(new) == {column.name for column in OfferingKeycloakMembership.__table__.columns} - {"id"}
    assert lifecycle.confirmed_row(3, details, NOW, "pending")["state"] == "active"
    assert lifecycle.confirmed_row(3, details, NOW)["state"] == "active"  # a plan knows only that the row exists
    with pytest.raises(IllegalTransition):
        lifecycle.confirmed_row(3, details, NOW, "expired")  # nothing revives an expired membership
    assert lifecycle.flagged_row(3, "active", NOW)["state"] == "removed_remotely"
    with pytest.raises(IllegalTransition):
        lifecycle.flagged_row(3, "pending", NOW)
    with pytest.raises(IllegalTransition):
        lifecycle.flag_removed_rows([(1, "active"), (2, "removed_remotely")], NOW)  # refused before any statement


# -- nobody else writes a membership state ---------------------------------------------------------------------

MEMBERSHIP_NAMES = {"MembershipState", "PENDING", "ACTIVE", "REMOVED", "REMOVED_REMOTELY", "EXPIRED"}
MEMBERSHIP_VALUES = {state.value for state in MembershipState}
OTHER_STATES = {"PlanState", "JobState"}


def _names(node: ast.AST) -> set[str]:
    found = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            found.add(child.id)
        elif isinstance(child, ast.Attribute):
            found.add(child.attr)
        elif isinstance(child, ast.alias):
            found.add(child.asname or child.name)
    return found


def _mentions_membership_state(value: ast.AST) -> bool:
    """Names a membership state; `PlanState.EXPIRED` (a plan's state of the same name) does not."""
    names = _names(value)
    if names & OTHER_STATES:
        return False
    constants = {child.value for child in ast.walk(value) if isinstance(child, ast.Constant)}
    return bool(names & MEMBERSHIP_NAMES or constants & MEMBERSHIP_VALUES)


def _other_state(value: ast.AST, annotations: dict[str, str]) -> bool:
    """The value is a plan's or a job's state: it names their enum, or is a parameter annotated with one."""
    names = _names(value)
    if names & OTHER_STATES:
        return True
    roots = {child.id for child in ast.walk(value) if isinstance(child, ast.Name)}
    return bool(roots) and all(any(enum in annotations.get(root, "") for enum in OTHER_STATES) for root in roots)


def _annotations(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> dict[str, str]:
    """The parameter annotations of the functions around `node`, the innermost winning."""
    found: dict[str, str] = {}
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.annotation is not None:
                    found.setdefault(arg.arg, ast.unparse(arg.annotation))
    return found


def state_writes(source: str) -> list[str]:
    """Where this module writes something that is, or may be, a membership's state: `x.state = ...`,
    `setattr(x, "state", ...)`, `state=...` in a call, `"state": ...` in a dict (row values for a statement).
    A dict whose "state" is a list describes a change ([before, after]) and writes nothing. In a module that
    deals with memberships, any `.state` assignment counts unless it is visibly a plan's or a job's state."""
    tree = ast.parse(source)
    about_memberships = bool(_names(tree) & {"OfferingKeycloakMembership", "MembershipState", "lifecycle"})
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    found: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            flat = [t for target in targets for t in ast.walk(target) if isinstance(t, ast.Attribute)]
            if any(t.attr == "state" for t in flat) and (
                _mentions_membership_state(node.value)
                or (about_memberships and not _other_state(node.value, _annotations(node, parents)))
            ):
                found.append(f"{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.Call):
            second = node.args[1] if len(node.args) > 1 else None
            if ast.unparse(node.func) == "setattr" and isinstance(second, ast.Constant) and second.value == "state":
                found.append(f"{node.lineno}: {ast.unparse(node)}")
            for keyword in node.keywords:
                if keyword.arg == "state" and _mentions_membership_state(keyword.value):
                    found.append(f"{node.lineno}: state={ast.unparse(keyword.value)}")
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "state"
                    and not isinstance(value, ast.List | ast.Tuple)
                    and _mentions_membership_state(value)
                ):
                    found.append(f"{node.lineno}: 'state': {ast.unparse(value)}")
    return sorted(set(found))


def test_only_the_lifecycle_writes_membership_state() -> None:
    writers = {
        str(path.relative_to(WEBAPP)): found
        for path in sorted(WEBAPP.rglob("*.py"))
        if path.name != "lifecycle.py" and (found := state_writes(path.read_text()))
    }
    assert writers == {}


def test_the_scan_sees_the_writes_it_forbids() -> None:
    own_file = WEBAPP / "services" / "memberships" / "lifecycle.py"
    assert state_writes(own_file.read_text())  # the lifecycle itself writes
    membership_module = "from webapp.models import OfferingKeycloakMembership\n"
    forbidden = [
        "row.state = MembershipState.ACTIVE.value",
        "row.state = 'removed_remotely'",
        "def f(row, new: str):\n    row.state = new",
        "setattr(row, 'state', value)",
        "update(model).values(state=MembershipState.REMOVED_REMOTELY.value)",
        "OfferingKeycloakMembership(group=group, username='x', state=ACTIVE)",
        "rows.append({'id': 1, 'state': ACTIVE, 'modified': now})",
    ]
    for snippet in forbidden:
        assert state_writes(membership_module + snippet), snippet
    allowed = [
        "plan.state = PlanState.OPEN",
        "def f(job, state: JobState):\n    job.state = state.value",
        "changes = {'state': [row.state, ACTIVE]}",
        "if row.state == ACTIVE:\n    pass",
    ]
    for snippet in allowed:
        assert not state_writes(membership_module + snippet), snippet
