"""The recorder's retry rule in a real browser (Debian's Chromium) against the real server: what it sends again by
itself and what it gives up on. The server no longer answers these statuses to a hostile upload, so the browser's
own network layer stands in for a server fault (500) and a full disk (507) on a few answers; the rest reach the
live server."""
from urllib.parse import urlparse

import pytest
from test_recorder_browser import chromium, fake_mic, record_and_send  # noqa: F401  (shared fixtures)
from test_server import cfg, loop, serve  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def is_upload(url: str) -> bool:
    return urlparse(url).path == "/api/recordings"


def test_a_server_fault_is_tried_three_times_a_full_disk_until_it_has_room(serve, chromium):  # noqa: F811
    from playwright.sync_api import expect

    live = serve()
    page = chromium.new_context().new_page()
    posts: list[int] = []

    def answer(status: int, headers: dict, then_real_after: int | None = None):
        def handle(route):
            if route.request.method != "POST":
                return route.continue_()
            posts.append(status)
            if then_real_after is not None and len(posts) > then_real_after:
                return route.continue_()
            return route.fulfill(status=status, headers=headers, content_type="application/json",
                                 body='{"error": "x", "message": "the show broke"}')
        return handle

    page.route(is_upload, answer(500, {}))
    page.goto(live.server.urls["local"])
    expect(page.locator("#show")).to_have_attribute("data-state", "open")
    record_and_send(page)
    expect(page.locator("#error-text")).to_contain_text("the show broke", timeout=20000)
    page.wait_for_timeout(5000)  # it gave up: no more tries of its own
    assert posts == [500] * 3
    assert live.pipeline.library.counts()["recordings"] == 0

    page.unroute(is_upload)
    posts.clear()
    page.route(is_upload, answer(507, {"Retry-After": "1"}, then_real_after=3))
    page.click("#send")
    expect(page.locator("#steps")).to_contain_text("Received by the show", timeout=40000)
    assert posts == [507] * 4  # three "disk full" answers waited out, the fourth try reached the show
    assert live.pipeline.library.counts()["recordings"] == 1
