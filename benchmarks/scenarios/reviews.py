"""Access reviews (docs/PRODUCT.md §12) at scale.

- review_items_5k: a review of the 5,000-member group (its items read from Keycloak when it opens); its items
  page through the API (``items/?page_size=100``, pages spread over the review) p50, with half the members
  decided, and the same SQL statements on every page; the review page in the browser's HTML (``/reviews/<uuid>``)
  p50 too.
"""

from __future__ import annotations

import statistics
from datetime import timedelta

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import AccessReviewItem, OfferingKeycloakGroup, User, utcnow
from webapp.services.reviews import core as reviews

from ..harness import BenchContext, timed
from ..report import Check, Result
from ..seed import MANAGER, MEMBERS_5K

P50_TARGET_S = 0.050
PAGE_SIZE = 100


def _open(ctx: BenchContext, group_uuid: str) -> tuple[str, float]:
    with ctx.app.app_context():
        actor = db.session.scalar(select(User).where(User.username == MANAGER))
        group = db.session.scalar(select(OfferingKeycloakGroup).where(OfferingKeycloakGroup.uuid == group_uuid))
        assert actor is not None and group is not None
        seconds, review = timed(
            lambda: reviews.open_review(actor, group.offering, [group], utcnow().date() + timedelta(days=14), None)
        )
        keys = list(
            db.session.scalars(
                select(AccessReviewItem.key)
                .where(AccessReviewItem.review_id == review.id)
                .order_by(AccessReviewItem.position)
            )
        )
        half = {key: ("keep" if index % 3 else "remove") for index, key in enumerate(keys[: len(keys) // 2])}
        reviews.decide(actor, review, half, "benchmark")
        return review.uuid, seconds


def run(ctx: BenchContext) -> list[Result]:
    review_uuid, opened_s = _open(ctx, ctx.seed.pull_groups["m5k"])
    url = f"offering-keycloak-reviews/{review_uuid}/items/"
    pages = [1 + (number * 7) % (MEMBERS_5K // PAGE_SIZE) for number in range(1, 22)]
    ctx.api(url, page=1, page_size=PAGE_SIZE)  # warm-up
    samples, statements = [], []
    for page in pages:
        before = ctx.sql.count
        seconds, response = timed(lambda p=page: ctx.api(url, page=p, page_size=PAGE_SIZE))
        statements.append(ctx.sql.count - before)
        samples.append(seconds)
        assert len(response.json()) == PAGE_SIZE
    filtered = [timed(lambda: ctx.api(url, decision="undecided", page=3, page_size=PAGE_SIZE))[0] for _ in range(11)]
    p50, p50_filtered = statistics.median(samples), statistics.median(filtered)
    return [
        Result(
            scenario="review_items_5k",
            ours_s=p50,
            floor_s=None,
            target=f"review of 5,000 members: items page p50 ≤ {int(P50_TARGET_S * 1000)} ms; SQL the same per page",
            checks=[
                Check("items/?page_size=100 p50 (ms)", round(p50 * 1000, 1), 50, p50 <= P50_TARGET_S),
                Check(
                    "items/?decision=undecided p50 (ms)",
                    round(p50_filtered * 1000, 1),
                    50,
                    p50_filtered <= P50_TARGET_S,
                ),
                Check(
                    "SQL statements per page (max - min)",
                    max(statements) - min(statements),
                    0,
                    len(set(statements)) == 1,
                ),
            ],
            extra={
                "open_review_s": round(opened_s, 3),
                "sql_statements_per_page": statements[0],
                "samples_ms": [round(sample * 1000, 1) for sample in samples],
            },
        )
    ]
