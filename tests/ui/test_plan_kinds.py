"""A plan kind registered at run time, in this file only, goes through the generic plan code: it is created,
previewed on the plan page, applied (partly, through the page's form), its result shown, and a stop in the
middle of its apply is settled through the kind. Nothing in webapp/ knows about it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest

from tests.factories import World
from tests.html import parse, text_of
from webapp.extensions import db
from webapp.models import AuditEvent, Offering, Plan, PlanItem, User
from webapp.services.commands import ApplySelection
from webapp.services.errors import Conflict
from webapp.services.plans import core as plans
from webapp.services.plans import kinds as plan_kinds
from webapp.services.plans.kinds import (
    ActionWords,
    Built,
    Chosen,
    Item,
    KindWords,
    Outcome,
    Progress,
    Report,
    Settled,
    Stale,
    Work,
)

GREETED: list[str] = []  # what the toy kind "writes"


@dataclass(frozen=True)
class PreviewGreetings:
    offering: Offering
    names: list[str]


class GreetingsKind:
    name = "greetings"
    for_group_managers = False  # the offering managers' only
    attributed = False  # its items are no membership differences
    preview = PreviewGreetings
    removes: frozenset[str] = frozenset()
    words = KindWords(
        heading="greet {n} friend{s}",
        what="friends",
        subject="Friend",
        actions={
            "greet": ActionWords("+", "Greet", "greet {user}", "+{n} to greet", "Greet"),
            "wave": ActionWords("~", "Wave", "wave at {user}"),
        },
    )

    def ttl(self) -> timedelta:
        return timedelta(minutes=5)

    def build(self, preview: PreviewGreetings, fingerprint: dict[str, Any], progress: Progress | None) -> Built:
        fingerprint["greeted"] = len(GREETED)

        def items() -> Iterator[Item]:
            for name in preview.names:
                yield Item(key=name, username=name, actions=("greet", "wave"), default_action="greet", note="Hello?")
            yield Item(key="nobody", username="nobody", note="Nobody to greet.")

        return Built({"names": preview.names}, items())

    def again(self, plan: Plan) -> PreviewGreetings:
        return PreviewGreetings(plan.offering, plan.params["names"])

    def prepare(self, actor: User, plan: Plan, chosen: list[Chosen], report: Report) -> Work:
        if len(GREETED) != plan.fingerprint["greeted"]:
            raise Stale(["someone was greeted meanwhile"])

        def one(item: Item, action: str) -> Outcome:
            GREETED.append(f"{action} {item.username}")
            return Outcome(item.id, action, True, f"Did {action} {item.username}.")

        return Work([], [(item.id, lambda item=item, action=action: one(item, action)) for item, action in chosen])

    def settle(self, plan: Plan, items: list[Item]) -> Settled:
        return Settled([Outcome(item.id, str(item.chosen_action), True, "Settled by the toy.") for item in items])


@pytest.fixture()
def greetings() -> Iterator[GreetingsKind]:
    kind = GreetingsKind()
    plan_kinds.register(kind)
    GREETED.clear()
    yield kind
    plan_kinds.unregister(kind)


def test_a_registered_kind_is_created_previewed_and_applied_by_the_generic_code(
    manager, world: World, greetings: GreetingsKind
) -> None:
    plan = plans.create_plan(world.manager, PreviewGreetings(world.offering, ["ann", "ben"]))
    assert (plan.kind, plan.state, plan.summary) == ("greetings", "open", {"greet": 2, "skipped": 1})
    assert plan.brake is None and plans.preview_of(plan) == PreviewGreetings(world.offering, ["ann", "ben"])

    location = f"/offerings/{world.offering.uuid}/plans/{plan.uuid}"
    doc = parse(manager.get(location).get_data(as_text=True))
    assert text_of(doc.select_one("h2#plan-heading")) == "Preview: greet 2 friends"
    assert text_of(doc.select_one("#plan-summary")) == "+2 to greet · !1 skipped"
    assert "Friend" in [text_of(th) for th in doc.select("thead th")]
    labels = [text_of(label) for label in doc.select("label.visually-hidden, legend.visually-hidden")]
    assert "Include: greet ann" in labels
    assert GREETED == []  # the preview did nothing

    form = {"shown": ["ann", "ben"], "pick:ann": "wave", "pick:ben": ""}
    response = manager.post(f"{location}/apply", form)
    assert response.status_code == 303 and response.headers["Location"].endswith(f"{location}/result")
    assert GREETED == ["wave ann"]
    db.session.expire_all()
    plan = db.session.get(Plan, plan.id)
    assert plan is not None and plan.state == "partially_applied"
    assert plan.result["counts"] == {"applied": 1, "failed": 0, "not_selected": 1}
    result = parse(manager.get(response.headers["Location"]).get_data(as_text=True))
    assert text_of(result.select_one("h2#result-heading")) == "Partly applied: 1 wave"
    assert "Did wave ann." in text_of(result.select_one("table"))
    applied = db.session.query(AuditEvent).filter_by(action="plan.applied").one()
    assert applied.details["kind"] == "greetings" and applied.details["counts"]["applied"] == 1


def test_a_registered_kind_goes_stale_and_is_refused_in_the_generic_words(
    world: World, greetings: GreetingsKind
) -> None:
    plan = plans.create_plan(world.manager, PreviewGreetings(world.offering, ["ann"]))
    newer = plans.create_plan(world.manager, PreviewGreetings(world.offering, ["ann"]))
    db.session.refresh(plan)
    assert plan.state == "discarded" and "A newer preview of the same friends" in plans.state_words(plan)

    GREETED.append("someone")
    with pytest.raises(Conflict) as stale:
        plans.apply_plan(world.manager, newer, ApplySelection({}))
    assert "someone was greeted meanwhile" in stale.value.message
    assert newer.state == "stale" and GREETED == ["someone"]


def test_a_stopped_apply_of_a_registered_kind_is_settled_by_the_kind(world: World, greetings: GreetingsKind) -> None:
    plan = plans.create_plan(world.manager, PreviewGreetings(world.offering, ["ann", "ben"]))
    item_ids = [item.id for item in plans.read_items(PlanItem.plan_id == plan.id)]
    plan.state, plan.applied_by_name = "applying", "manager"
    plan.result = {"run": "r", "progress": {"done": 0, "total": 2}, "sending": item_ids[:2]}
    for item in db.session.query(PlanItem).filter(PlanItem.id.in_(item_ids[:2])):
        item.chosen_action, item.outcome = "greet", "failed"
    db.session.commit()
    words = plans.stop_apply(plan, "The worker stopped")
    assert words == "The worker stopped after all 2 changes; they are recorded on the plan's result page."
    db.session.refresh(plan)
    assert plan.state == "applied"
    assert {item.message for item in plans.recorded_result(plan).items} == {"Settled by the toy."}
