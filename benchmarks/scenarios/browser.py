"""The Groups page of the 2,000 + 2,000 offering in Chromium: first contentful paint and page HTML size.

"First render" is the browser's First Contentful Paint, measured from navigation start (it includes
the server's time to produce the HTML). Time to first byte, DOMContentLoaded, load and the moment the
diff table is visible are reported beside it.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

from ..harness import BenchContext
from ..report import Check, Result

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
FIRST_RENDER_TARGET_S = 1.0
HTML_TARGET_BYTES = 300 * 1024

# Resolves once the paint entry exists (a PerformanceObserver: the page's CSP forbids eval-based polling).
TIMING_JS = """() => new Promise((resolve) => {
  const collect = () => {
    const nav = performance.getEntriesByType('navigation')[0];
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    return {
      fcp: fcp.startTime,
      response_start: nav.responseStart,
      response_end: nav.responseEnd,
      dom_content_loaded: nav.domContentLoadedEventEnd,
      load: nav.loadEventEnd,
    };
  };
  if (performance.getEntriesByName('first-contentful-paint').length) { resolve(collect()); return; }
  new PerformanceObserver((list, observer) => {
    if (list.getEntriesByName('first-contentful-paint').length) { observer.disconnect(); resolve(collect()); }
  }).observe({type: 'paint', buffered: true});
})"""


def log_in(page: Page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(lambda url: "/login" not in url)


@contextmanager
def logged_in_page(ctx: BenchContext) -> Iterator[Page]:
    """Debian's Chromium with one page, logged in as the bench manager."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(120_000)
        log_in(page, ctx.server.url, ctx.seed.manager_username, ctx.seed.manager_password)
        try:
            yield page
        finally:
            context.close()
            browser.close()


def run(ctx: BenchContext) -> list[Result]:
    if not CHROMIUM.exists():
        return [
            Result(
                "browser_groups_page",
                None,
                None,
                "FCP ≤ 1 s; HTML ≤ 300 KB",
                [Check("chromium available", False, str(CHROMIUM), False)],
            )
        ]
    url = f"{ctx.server.url}/offerings/{ctx.seed.bench_offering_uuid}/groups"
    samples: list[dict[str, Any]] = []
    html_bytes = 0
    with logged_in_page(ctx) as page:
        for index in range(ctx.repeat + 1):
            before = ctx.keycloak.count
            response = page.goto(url, wait_until="load")
            assert response is not None and response.ok, response
            timing = page.evaluate(TIMING_JS)
            page.locator("table.diff").wait_for()  # the rows themselves (they could arrive after first paint)
            timing["table_visible"] = page.evaluate("() => performance.now()")
            timing["keycloak_requests"] = ctx.keycloak.count - before
            html_bytes = len(response.body())
            if index:  # the first load warms the browser's caches (CSS, JS)
                samples.append(timing)

    def median(key: str) -> float:
        return statistics.median(sample[key] for sample in samples) / 1000

    fcp = median("fcp")
    return [
        Result(
            scenario="browser_groups_page",
            ours_s=fcp,
            floor_s=None,
            target="FCP ≤ 1 s; HTML ≤ 300 KB",
            checks=[
                Check("first contentful paint (s)", round(fcp, 3), FIRST_RENDER_TARGET_S, fcp <= FIRST_RENDER_TARGET_S),
                Check("page HTML bytes", html_bytes, HTML_TARGET_BYTES, html_bytes <= HTML_TARGET_BYTES),
            ],
            extra={
                "runs_fcp_s": [round(sample["fcp"] / 1000, 4) for sample in samples],
                "time_to_first_byte_s": round(median("response_start"), 4),
                "dom_content_loaded_s": round(median("dom_content_loaded"), 4),
                "load_s": round(median("load"), 4),
                "table_visible_s": round(median("table_visible"), 4),
                "html_bytes": html_bytes,
                "keycloak_requests_per_render": samples[-1]["keycloak_requests"],
            },
        )
    ]
