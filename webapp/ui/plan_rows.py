"""View model of the plan and result pages: words and symbols per action, filter chips, what is ticked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..extensions import db
from ..models import Plan, PlanItem, PlanKind, PlanState
from ..services import plans
from ..services.plans import clock
from .paging import Pager, pager

PAGE_SIZE = 200
# action: (symbol, word, phrase for "Include: <phrase>")
ACTIONS = {
    "add_local": ("+", "Add here", "add {user} to {group} here"),
    "update_local": ("~", "Update here", "update {user} in {group} here"),
    "activate_local": ("~", "Activate here", "activate {user} in {group} here"),
    "flag_removed": ("\u2212", "Flag as removed", "flag {user} as removed from {group}"),
    "add_remote": ("+", "Add in Keycloak", "add {user} to {group} in Keycloak"),
    "remove_remote": ("\u2212", "Remove from Keycloak", "remove {user} from {group} in Keycloak"),
    "restore_remote": ("+", "Restore in Keycloak", "add {user} back to {group} in Keycloak"),
    "import": ("+", "Import", "import {group}"),
    "link": ("~", "Link", "link {group}"),
}
SUMMARY = {
    "add_local": "+{n} to add",
    "update_local": "~{n} to update",
    "activate_local": "~{n} to activate",
    "flag_removed": "\u2212{n} missing in Keycloak",
    "add_remote": "+{n} to add in Keycloak",
    "import": "+{n} to import",
    "link": "~{n} to link",
    "optional": "{n} optional",
    "skipped": "!{n} skipped",
    "unchanged": "={n} unchanged",
}
CHIPS = {
    "add_local": "Add",
    "update_local": "Update",
    "activate_local": "Activate",
    "flag_removed": "Missing in Keycloak",
    "add_remote": "Add in Keycloak",
    "import": "Import",
    "link": "Link",
    "optional": "Optional",
    "skipped": "Skipped",
}
OUTCOMES = {"applied": ("✓", "Applied"), "failed": ("✗", "Failed"), "not_selected": ("\u2013", "Not selected")}
PRESETS = ("safe", "all", "none")
KIND_WORDS = {
    PlanKind.MEMBERS.value: "pull members into {n} group{s}",
    PlanKind.IMPORT.value: "import {n} Keycloak group{s}",
    PlanKind.LINKS.value: "link {n} local group{s}",
}


def summary_line(summary: Mapping[str, int]) -> str:
    return " · ".join(SUMMARY[key].format(n=summary[key]) for key in SUMMARY if summary.get(key))


def preset_action(item: PlanItem, preset: str) -> str | None:
    if preset == "none":
        return None
    if preset == "all":
        return item.default_action or (item.actions[0] if item.actions else None)
    return item.default_action


@dataclass(frozen=True)
class Choice:
    action: str
    symbol: str
    word: str
    checked: bool


@dataclass(frozen=True)
class Row:
    item: PlanItem
    symbol: str
    word: str
    label: str  # "Include: add alice to users here"
    choices: list[Choice]
    outcome_symbol: str = ""
    outcome_word: str = ""

    @property
    def kind(self) -> str:
        return "radio" if len(self.choices) > 1 else "checkbox" if self.choices else "none"

    @property
    def changes(self) -> list[str]:
        return [f"{name}: {old or '—'} → {new or '—'}" for name, (old, new) in self.item.changes.items()]


@dataclass
class PlanPage:
    plan: Plan
    heading: str
    subline: str
    summary: str
    rows: list[Row]
    chips: list[tuple[str, str, int]]  # (action filter, label, count)
    action: str
    query: str
    show_unchanged: bool
    preset: str
    page: int
    pages: int
    total: int
    shown_defaults: int
    hidden_selected: int  # chosen items not on this page: they follow the preset
    changes: int  # items that offer an action at all
    pager: Pager
    error: str = ""
    confirm: dict[str, str] = field(default_factory=dict)  # the removal step: phrase (maybe ""), reason, list
    items_removed: str = ""  # the retention sweep removed the items: why the table is not shown, in words

    @property
    def selected(self) -> int:
        return self.hidden_selected + sum(1 for row in self.rows if any(c.checked for c in row.choices))

    @property
    def is_open(self) -> bool:
        return self.plan.state == PlanState.OPEN.value

    @property
    def no_changes(self) -> bool:
        return self.changes == 0


def _row(item: PlanItem, picked: str | None) -> Row:
    user = item.username or item.group_name
    group = item.group_name or item.remote_path
    default = item.default_action or (item.actions[0] if item.actions else "")
    symbol, word, _ = ACTIONS.get(default, ("=", "Unchanged", ""))
    if not item.actions and not item.unchanged:
        symbol, word = "!", "Skipped"
    label_action = picked or default
    phrase = ACTIONS[label_action][2].format(user=user, group=group) if label_action in ACTIONS else ""
    choices = [Choice(action, *ACTIONS[action][:2], checked=picked == action) for action in item.actions]
    outcome = OUTCOMES.get(item.outcome or "", ("", ""))
    if item.chosen_action in ACTIONS:
        symbol, word = ACTIONS[item.chosen_action][:2]
    return Row(item, symbol, word, f"Include: {phrase}", choices, *outcome)


def plan_page(
    plan: Plan,
    action: str = "",
    query: str = "",
    show_unchanged: bool = False,
    preset: str = "safe",
    page: int = 1,
    picks: Mapping[str, str | None] | None = None,
    endpoint: str = "ui.plan_detail",
) -> PlanPage:
    """`picks` (item key -> action or None) are what the manager ticked, when the page is shown again."""
    preset = preset if preset in PRESETS else "safe"
    items: list[PlanItem] = []
    total = 0
    if plan.items_removed is None:
        items_query = plans.items_query(plan, action, query, show_unchanged)
        total = db.session.scalar(items_query.with_only_columns(db.func.count()).order_by(None)) or 0
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    if total:
        items = list(db.session.scalars(items_query.limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE)))
    picks = picks or {}
    rows = [_row(item, picks[item.key] if item.key in picks else preset_action(item, preset)) for item in items]
    summary = plan.summary
    changes = sum(count for key, count in summary.items() if key not in ("unchanged", "skipped"))
    preset_total = _preset_count(plan, preset)
    shown_preset = sum(1 for item in items if preset_action(item, preset))
    groups = len(plan.params.get("group_uuids") or []) or len(plan.params.get("remote_group_ids") or []) or changes
    kind = KIND_WORDS[plan.kind].format(n=groups, s="" if groups == 1 else "s")
    return PlanPage(
        plan=plan,
        heading=f"Preview: {kind}",
        subline=(
            f"Computed {clock(plan.created)} from Keycloak by {plan.created_by_name} · expires {clock(plan.expires)}"
        ),
        summary=summary_line(summary),
        rows=rows,
        chips=[(key, label, summary[key]) for key, label in CHIPS.items() if summary.get(key)],
        action=action,
        query=query,
        show_unchanged=show_unchanged,
        preset=preset,
        page=page,
        pages=pages,
        total=total,
        shown_defaults=shown_preset,
        hidden_selected=max(0, preset_total - shown_preset),
        changes=changes,
        pager=pager(
            endpoint,
            {"offering_uuid": plan.offering.uuid, "plan_uuid": plan.uuid},
            {
                "action": action,
                "q": query,
                "show_unchanged": "1" if show_unchanged else None,
                "preset": None if endpoint != "ui.plan_detail" or preset == "safe" else preset,
            },
            page,
            total=total,
            per_page_=PAGE_SIZE,
        ),
        items_removed=plans.items_removed_words(plan),
    )


def _preset_count(plan: Plan, preset: str) -> int:
    summary = plan.summary
    if preset == "none":
        return 0
    defaults = sum(count for key, count in summary.items() if key not in ("unchanged", "skipped", "optional"))
    return defaults + (summary.get("optional", 0) if preset == "all" else 0)


def result_heading(plan: Plan) -> str:
    by_action = plan.result.get("by_action", {})
    counts = plan.result.get("counts", {})
    # In the actions' own order, whatever order the apply recorded them in (a JSON object's keys are not kept in
    # order by every database).
    done = ", ".join(f"{by_action[a]} {ACTIONS[a][1].lower()}" for a in ACTIONS if by_action.get(a))
    done = done or "nothing changed"
    failed = counts.get("failed", 0)
    state = {"applied": "Applied", "partially_applied": "Partly applied", "failed": "Not applied"}.get(plan.state, "")
    return f"{state}: {done}" + (f", {failed} failed" if failed else "")


def result_timeline(plan: Plan, changes: int) -> str:
    """previewed 14:02 by alice → applied 14:05 by alice (5 of 9 selected) → finished 14:05 (2.1 s)"""
    parts = [f"Previewed {clock(plan.created)} by {plan.created_by_name}"]
    if plan.apply_started:
        selected = plan.result.get("selected")
        of = f" ({selected} of {changes} selected)" if selected is not None else ""
        parts.append(f"applied {clock(plan.apply_started)} by {plan.applied_by_name}{of}")
    if plan.finished and plan.apply_started:
        seconds = (plans.aware(plan.finished) - plans.aware(plan.apply_started)).total_seconds()
        parts.append(f"finished {clock(plan.finished)} ({seconds:.1f} s)")
    return " → ".join(parts)
