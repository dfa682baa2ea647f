"""The explorable page in a real browser (Playwright driving Chromium or Chrome).

The browser comes from $MLMCOMPARE_BROWSER (a path or a command name) or the
PATH (chromium, chromium-browser, google-chrome); Playwright's own browser
download is not used. Without a browser these tests fail when $CI is set and
are skipped otherwise.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlmcompare.report import explore as E

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def missing(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI is set, so this is a failure, not a skip)")
    pytest.skip(reason)


def find_browser() -> str | None:
    wanted = os.environ.get("MLMCOMPARE_BROWSER")
    if wanted:
        return shutil.which(wanted) or (wanted if Path(wanted).is_file() else None)
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


@pytest.fixture(scope="session")  # session scope: found (or refused) before the pipeline fixture runs
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright is not installed: pip install -e '.[test]'")
    path = find_browser()
    if path is None:
        missing(f"no browser: set MLMCOMPARE_BROWSER or put one of {', '.join(CANDIDATES)} on the PATH")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page_path(hs_results) -> Path:
    """The page the pipeline wrote for `hs`."""
    return hs_results / "explore.html"


@pytest.fixture(scope="module")
def numbers(hs_results):
    return E.explore_numbers(hs_results)


@pytest.fixture
def page(browser, page_path):
    """The page opened from file://, with its console errors and every request recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = context.new_page()
    pg.errors, pg.requests = [], []
    pg.on("console", lambda m: pg.errors.append(m.text) if m.type in ("error", "warning") else None)
    pg.on("pageerror", lambda e: pg.errors.append(str(e)))
    pg.on("request", lambda r: pg.requests.append(r.url))
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(("file:", "data:")) else route.abort())
    pg.goto(page_path.as_uri())
    yield pg
    context.close()


def text(pg, sel: str) -> str:
    return pg.locator(sel).text_content().strip()


def mixed_arrays(numbers):
    g = numbers["mixed"]["G"]
    return np.array([[g[0], g[1]], [g[1], g[2]]]), numbers["mixed"]["sigma2"]


def python_blup(numbers, i: int, g_scale: float, s2_scale: float = 1.0) -> np.ndarray:
    s = numbers["schools"][i]
    xtx = np.array([[[s["n"], s["sums"][0]], [s["sums"][0], s["sums"][1]]]])
    xty = np.array([s["sums"][2:]])
    G, s2 = mixed_arrays(numbers)
    return E.blup_lines(xtx, xty, np.array([numbers["mixed"]["lines"][s["level"]]]), g_scale * G, s2_scale * s2)[0]


def assert_shown(pg, sel: str, value: float, digits: int = 3):
    shown = text(pg, sel)
    assert float(shown) == pytest.approx(value, abs=0.5 * 10**-digits + 1e-9), (sel, shown, value)


def test_page_is_at_most_1_mb(page_path):
    assert page_path.stat().st_size <= 1_000_000


def test_loads_offline_without_errors(page):
    assert page.locator("#blup-intercept").text_content().strip() != ""
    assert page.locator("#beta-svg circle").count() >= 80  # 40 schools: own lines and BLUPs
    assert page.errors == []
    assert page.requests and all(u.startswith(("file:", "data:")) for u in page.requests), page.requests


def test_g_slider_moves_the_blup_to_the_closed_form(page, numbers):
    i = int(page.locator("#school").input_value())
    assert_shown(page, "#blup-slope", python_blup(numbers, i, 1.0)[1])
    slider = page.locator("#g-scale")
    slider.focus()
    for _ in range(10):  # the keyboard: ten steps of 0.05 down
        page.keyboard.press("ArrowLeft")
    assert text(page, "#g-scale-out") == "0.50"
    assert slider.get_attribute("aria-valuetext").startswith("0.50 times")
    want = python_blup(numbers, i, 0.5)
    assert_shown(page, "#blup-intercept", want[0])
    assert_shown(page, "#blup-slope", want[1])
    assert np.abs(want - python_blup(numbers, i, 1.0)).max() > 0.05  # it did move
    page.locator("#g-scale").fill("0")
    sector = numbers["mixed"]["lines"][numbers["schools"][i]["level"]]
    assert_shown(page, "#blup-intercept", sector[0])
    assert_shown(page, "#blup-slope", sector[1])


def test_sigma2_slider_and_another_school(page, numbers):
    j = len(numbers["schools"]) - 1
    page.locator("#school").select_option(str(j))
    page.locator("#g-scale").fill("1.5")
    page.locator("#s2-scale").fill("2")
    want = python_blup(numbers, j, 1.5, 2.0)
    assert_shown(page, "#blup-intercept", want[0])
    assert_shown(page, "#blup-slope", want[1])
    assert text(page, "#school-name") == numbers["schools"][j]["id"]


def test_unticking_a_method_hides_its_ellipses(page):
    ellipses = page.locator('g[data-method="between"] path.method-ellipse')
    assert ellipses.count() == 3 and all(ellipses.nth(k).is_visible() for k in range(3))
    page.locator("#show-between").uncheck()
    assert all(ellipses.nth(k).is_hidden() for k in range(3))
    assert page.locator('g[data-method="mixed"] path.method-ellipse').first.is_visible()
    assert page.locator("#comparison tbody tr.off").count() == 1
    page.locator("#show-between").check()
    assert ellipses.first.is_visible()


def test_comparison_table_shows_the_handouts_numbers(page, numbers):
    rows = page.locator("#comparison tbody tr")
    assert rows.count() == len(numbers["methods"])
    mixed = next(m for m in numbers["methods"] if m["id"] == "mixed")
    row = rows.nth(numbers["methods"].index(mixed)).text_content()
    assert mixed["label"] in row and mixed["differences_table"][1]["95% CI"] in row


def test_design_sliders_give_the_closed_forms(page, numbers):
    gap = numbers["gaps"][0]
    G, s2 = mixed_arrays(numbers)
    m = gap["model_var"]
    assert_shown(page, "#se-model-slope", np.sqrt(m[2]))
    assert_shown(page, "#se-schools-slope", np.sqrt(m[2]))  # at the data's own design
    page.locator("#n-schools").fill("0.3")
    page.locator("#n-students").fill("-0.5")
    J = round(gap["n_schools"] * 10**0.3)
    n = gap["n_bar"] * 10**-0.5
    assert text(page, "#n-schools-out") == str(J)
    xs = gap["xtx_per_student"]
    bal = E.gap_variance_balanced(J, gap["share_level"], gap["share_reference"], n, np.array([[xs[0], xs[1]], [xs[1], xs[2]]]), G, s2)
    assert_shown(page, "#se-balanced-intercept", np.sqrt(bal[0, 0]))
    assert_shown(page, "#se-balanced-slope", np.sqrt(bal[1, 1]))
    sch = numbers["schools"]
    xtx = np.array([[[s["n"], s["sums"][0]], [s["sums"][0], s["sums"][1]]] for s in sch])
    lv = np.array([s["level"] for s in sch])
    scaled = E.gap_variance_from_schools(xtx * (n / gap["n_bar"]), lv == gap["level"], lv == gap["reference"], G, s2) * gap["n_schools"] / J
    assert_shown(page, "#se-schools-slope", np.sqrt(scaled[1, 1]))
    page.locator("#design-reset").click()
    assert_shown(page, "#se-schools-intercept", np.sqrt(m[0]))


def test_every_control_has_a_label(page):
    for control in page.locator("input, select").all():
        cid = control.get_attribute("id")
        labelled = page.locator(f'label[for="{cid}"]').count() == 1 or control.evaluate("e => !!e.closest('label')")
        assert labelled, cid
    for sid in ("g-scale", "s2-scale", "n-schools", "n-students"):
        assert page.locator(f"#{sid}").get_attribute("aria-valuetext"), sid
        assert page.locator(f'output[for="{sid}"]').count() == 1
