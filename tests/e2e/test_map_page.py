"""The trail map in a real headless browser (Debian's chromium and its driver,
through selenium): it loads, shows the notes deposited, changes when a note
is deposited or retracted, shows a note's details on a click, searches,
switches namespace, and fades a note as it decays; a screenshot is saved as
a test artefact (test-artifacts/trail-map.png)."""
from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest

from conftest import ROOT
from test_http import fetch, http_token, http_url

pytestmark = pytest.mark.skipif(not shutil.which("chromedriver"), reason="needs chromium and chromium-driver (make test installs them)")

ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,800"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_for(what: str, check, timeout: float = 20):
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.engines("sqlite")
def test_the_map_shows_the_colony_live(daemon_factory, browser):
    from selenium.webdriver.common.by import By
    d = daemon_factory("map", extra=["--http", "127.0.0.1:0"])
    host, port = http_url(d)
    token = http_token(d)
    assert fetch(host, port, "/")[0] == 401  # the page needs the token too
    with d.connect() as c:
        notes = [c.result("trail.deposit", {"body": body, "ns": "colony", "tags": ["map"]}) for body in (
            "the build needs libzstd-dev", "run make model before make test", "postgres tests start their own cluster",
            "sense with a budget to fit the context window")]
        c.result("trail.link", {"from": notes[0]["id"], "to": notes[1]["id"], "ns": "colony", "delta": 2})
        c.result("trail.reinforce", {"id": notes[0]["id"], "ns": "colony", "delta": 3})

        browser.get(f"http://{host}:{port}/?token={token}&ns=colony")
        wait_for("the namespace to load", lambda: browser.execute_script("return document.body.dataset.loaded") == "colony")
        circles = lambda: browser.find_elements(By.CSS_SELECTOR, "#graph circle")
        wait_for("four notes drawn", lambda: len(circles()) == 4)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#graph line")) == 1
        # The reinforced note is drawn larger.
        sizes = {el.get_attribute("data-id"): float(el.get_attribute("r")) for el in circles()}
        assert sizes[notes[0]["id"]] > sizes[notes[2]["id"]]

        # Live: a deposit appears, a retraction disappears.
        fresh = c.result("trail.deposit", {"body": "a note deposited while the map is open", "ns": "colony"})
        wait_for("the new note drawn", lambda: fresh["id"] in [el.get_attribute("data-id") for el in circles()])
        c.result("trail.retract", {"id": notes[3]["id"], "ns": "colony", "reason": "the map test takes it back"})
        wait_for("the retracted note gone", lambda: notes[3]["id"] not in [el.get_attribute("data-id") for el in circles()])
        assert len(circles()) == 4

        # A click shows the note's body and history.
        next(el for el in circles() if el.get_attribute("data-id") == notes[0]["id"]).click()
        details = lambda: browser.find_element(By.ID, "details").text
        wait_for("the details", lambda: "the build needs libzstd-dev" in details())
        assert "deposit" in details() and "reinforce" in details()

        # Search by words.
        box = browser.find_element(By.ID, "q")
        box.send_keys("cluster")
        browser.find_element(By.CSS_SELECTOR, "#search button").click()
        wait_for("the search's result", lambda: "postgres tests start their own cluster" in details())
        assert "1 found" in details()

        ARTIFACTS.mkdir(exist_ok=True)
        shot = ARTIFACTS / "trail-map.png"
        browser.save_screenshot(str(shot))
        assert shot.stat().st_size > 10_000

        # The namespace picker, and weights fading as they decay (a 2-second half-life).
        c.result("trail.namespace.configure", {"ns": "fast", "half_life_s": 2})
        quick = c.result("trail.deposit", {"body": "a note that fades fast", "ns": "fast", "strength": 4})
        browser.execute_script("location.reload()")
        wait_for("the page again", lambda: browser.execute_script("return document.body.dataset.loaded") == "colony")
        from selenium.webdriver.support.ui import Select
        Select(browser.find_element(By.ID, "ns")).select_by_value("fast")
        wait_for("the other namespace", lambda: browser.execute_script("return document.body.dataset.loaded") == "fast")
        radius = lambda: float(wait_for("the fading note", lambda: next((el.get_attribute("r") for el in circles()
                                                                          if el.get_attribute("data-id") == quick["id"]), None)))
        first = radius()
        time.sleep(2.5)
        assert radius() < first * 0.85, "the note did not fade"
        assert [el.get_attribute("data-id") for el in circles()] == [quick["id"]]

    assert d.alive()


@pytest.mark.engines("sqlite")
def test_the_map_draws_contested_notes_and_drops_a_contest_when_a_side_is_retracted(daemon_factory, browser):
    """Two notes that disagree (30 s against 60 s) contest each other: the map
    joins them with a dashed contest line, rings both, and a click on one
    shows the other's body under "Contested by"; a third note contesting
    them, deposited while the page is open, joins live; a retraction ends
    its contests on the map. A paraphrase pair that agrees draws no contest."""
    from selenium.webdriver.common.by import By
    from test_meaning import MODEL
    d = daemon_factory("mapc", extra=["--http", "127.0.0.1:0", "--model-dir", str(MODEL)])
    host, port = http_url(d)
    token = http_token(d)
    with d.connect() as c:
        a = c.result("trail.deposit", {"body": "Set the request timeout to 30 s or uploads abort.", "ns": "c"})["id"]
        b = c.result("trail.deposit", {"body": "Set the request timeout to 60 s or uploads abort.", "ns": "c"})["id"]
        c.result("trail.deposit", {"body": "The nightly job rebuilds the search index.", "ns": "c"})
        c.result("trail.deposit", {"body": "The search index is rebuilt by the nightly job.", "ns": "c"})
        wait_for("four notes embedded", lambda: c.result("trail.stats", {"ns": "c"})["embedding"]["embedded"] == 4)

        browser.get(f"http://{host}:{port}/?token={token}&ns=c")
        wait_for("the namespace to load", lambda: browser.execute_script("return document.body.dataset.loaded") == "c")
        contest_lines = lambda: sorted(tuple(sorted((el.get_attribute("data-a"), el.get_attribute("data-b"))))
                                       for el in browser.find_elements(By.CSS_SELECTOR, "#graph line.contest"))
        ringed = lambda: sorted(el.get_attribute("data-id") for el in browser.find_elements(By.CSS_SELECTOR, "#graph circle.contested"))
        wait_for("the contest drawn", lambda: contest_lines() == [tuple(sorted((a, b)))])
        assert ringed() == sorted([a, b])
        assert "1 contested" in browser.find_element(By.ID, "status").text

        next(el for el in browser.find_elements(By.CSS_SELECTOR, "#graph circle") if el.get_attribute("data-id") == a).click()
        details = lambda: browser.find_element(By.ID, "details").text
        wait_for("the other side's body", lambda: "Set the request timeout to 60 s or uploads abort." in details())
        assert "Contested by 1" in details() and "reinforce the note that held" in details()

        # Live: a third value contests both.
        third = c.result("trail.deposit", {"body": "Set the request timeout to 90 s or uploads abort.", "ns": "c"})["id"]
        wait_for("the new contests drawn", lambda: len(contest_lines()) == 3, timeout=30)
        assert ringed() == sorted([a, b, third])
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "trail-map-contests.png"))

        # Retracted: its circle and its contests leave the map; the other two still contest each other.
        c.result("trail.retract", {"id": third, "ns": "c", "reason": "90 s was never tried"})
        wait_for("the retracted note's contests gone", lambda: contest_lines() == [tuple(sorted((a, b)))], timeout=30)
        wait_for("its ring gone", lambda: ringed() == sorted([a, b]))
    assert d.alive()
