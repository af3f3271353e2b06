"""View model of the plan and result pages: words and symbols per action, filter chips, what is ticked."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from ..models import Plan, PlanItem, PlanState
from ..services.plans import core as plans
from ..services.plans.core import clock
from ..services.plans.kinds import ActionWords
from .paging import Pager, pager

PAGE_SIZE = 200
OUTCOMES = {"applied": ("✓", "Applied"), "failed": ("✗", "Failed"), "not_selected": ("\u2013", "Not selected")}
PRESETS = ("safe", "all", "none")
# After the summaries of a kind's default actions, in this order.
SUMMARY = {"optional": "{n} optional", "skipped": "!{n} skipped", "unchanged": "={n} unchanged"}
CHIPS = {"optional": "Optional", "skipped": "Skipped"}


def summary_line(plan: Plan) -> str:
    actions = plans.kind_of(plan).words.actions
    words = {action: said.summary for action, said in actions.items() if said.summary} | SUMMARY
    return " · ".join(words[key].format(n=plan.summary[key]) for key in words if plan.summary.get(key))


def _chips(plan: Plan) -> list[tuple[str, str, int]]:
    actions = plans.kind_of(plan).words.actions
    chips = {action: said.chip for action, said in actions.items() if said.chip} | CHIPS
    return [(key, label, plan.summary[key]) for key, label in chips.items() if plan.summary.get(key)]


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
    keycloak_change: str = ""  # who made the difference in Keycloak, in words

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
    subject: str  # the column naming what an item is about
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
        return self.plan.state == PlanState.OPEN

    @property
    def no_changes(self) -> bool:
        return self.changes == 0


UNCHANGED = ActionWords("=", "Unchanged", "")


def _said(words: ActionWords) -> tuple[str, str]:
    return words.symbol, words.word


def _row(actions: Mapping[str, ActionWords], item: PlanItem, picked: str | None, keycloak_change: str) -> Row:
    user = item.username or item.group_name
    group = item.group_name or item.remote_path
    default = item.default_action or (item.actions[0] if item.actions else "")
    symbol, word = _said(actions.get(default, UNCHANGED))
    if not item.actions and not item.unchanged:
        symbol, word = "!", "Skipped"
    label_action = picked or default
    phrase = actions[label_action].phrase.format(user=user, group=group) if label_action in actions else ""
    choices = [Choice(action, *_said(actions[action]), checked=picked == action) for action in item.actions]
    outcome = OUTCOMES.get(item.outcome or "", ("", ""))
    if item.chosen_action and item.chosen_action in actions:
        symbol, word = _said(actions[item.chosen_action])
    return Row(item, symbol, word, f"Include: {phrase}", choices, *outcome, keycloak_change=keycloak_change)


def build_plan_page(
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
        total = plans.items_total(plan, action, query, show_unchanged)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(page, 1), pages)
    if total:
        items = plans.items_slice(plan, (page - 1) * PAGE_SIZE, PAGE_SIZE, action, query, show_unchanged)
    attributed = plans.keycloak_changes(plan, items) if items else {}
    picks = picks or {}
    words = plans.kind_of(plan).words
    none = plans.Attribution()
    rows = [
        _row(
            words.actions,
            item,
            picks[item.key] if item.key in picks else preset_action(item, preset),
            attributed.get(item.id, none).words,
        )
        for item in items
    ]
    summary = plan.summary
    changes = sum(count for key, count in summary.items() if key not in ("unchanged", "skipped"))
    preset_total = _preset_count(plan, preset)
    shown_preset = sum(1 for item in items if preset_action(item, preset))
    groups = len(plan.params.get("group_uuids") or []) or len(plan.params.get("remote_group_ids") or []) or changes
    kind = words.heading.format(n=groups, s="" if groups == 1 else "s")
    return PlanPage(
        plan=plan,
        heading=f"Preview: {kind}",
        subject=words.subject,
        subline=(
            f"Computed {clock(plan.created)} from Keycloak by {plan.created_by_name} · expires {clock(plan.expires)}"
        ),
        summary=summary_line(plan),
        rows=rows,
        chips=_chips(plan),
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
    actions = plans.kind_of(plan).words.actions
    done = ", ".join(f"{by_action[a]} {actions[a].word.lower()}" for a in actions if by_action.get(a))
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
        seconds = (plan.finished - plan.apply_started).total_seconds()
        parts.append(f"finished {clock(plan.finished)} ({seconds:.1f} s)")
    return " → ".join(parts)
