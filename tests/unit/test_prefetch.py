from __future__ import annotations

import threading

import pytest

from webapp.services.connection.prefetch import prefetched


def test_yields_everything_in_order() -> None:
    assert list(prefetched(iter(range(10)), depth=2)) == list(range(10))


def test_errors_reach_the_consumer_after_the_pages_before_them() -> None:
    def pages():
        yield 1
        yield 2
        raise RuntimeError("page 3 failed")

    seen = []
    with pytest.raises(RuntimeError, match="page 3 failed"):
        for page in prefetched(pages()):
            seen.append(page)
    assert seen == [1, 2]


def test_stopping_early_does_not_leave_the_producer_behind() -> None:
    before = threading.active_count()
    for page in prefetched(iter(range(1000)), depth=1):
        if page == 3:
            break
    assert threading.active_count() == before
