"""The dashboard page, as people see it in a browser, over the real history.

Given the real history (``ledger/data/demo.jsonl``) loaded through the API, the page
at ``/`` answers "where do we stand?" in Swedish, in English on switch, as of any date,
reachable by keyboard, live, and drawn from this service alone. See ``conftest.py`` for
how the browser and the service run, and for the screenshots.
"""

from __future__ import annotations

import contextlib
import re
from typing import Any

import pytest

from tests.browser.conftest import DESKTOP, PHONE, Site, Visit, visit

with contextlib.suppress(ImportError):
    from playwright.sync_api import Browser, Locator, Page, expect

AGREEMENT = "Hemsjukvårdsavtalet"
CONSULTATION = "Remiss Gemensam plan för primärvårdsnivå 2023"
PLAN_RECOMMENDATION = "Rekommendation SVOM 2023-10-13 §34"
EXTENSION_RECOMMENDATION = "Rekommendation SVOM 2021-06-04 §20"
MATTER = "RJH:RS/203/2021"


def agreement(page: Page, ref: str) -> Locator:
    return page.locator("article.agreement",
                        has=page.get_by_role("heading", name=ref, exact=True))


def bar(article: Locator) -> dict[str, Any]:
    """Where the validity bar ends on screen, and where each year begins."""
    found: dict[str, Any] = article.evaluate("""a => ({
        end: Math.max(...[...a.querySelectorAll('.seg-registered, .seg-extension')]
                       .map(r => r.getBoundingClientRect().right)),
        pending: [...a.querySelectorAll('.seg-pending')].map(r => r.dataset.end),
        years: Object.fromEntries([...a.querySelectorAll('line.tick')]
                                  .map(l => [l.dataset.year, l.getBoundingClientRect().left])),
        until: a.querySelector('g.validity').dataset.validUntil,
        label: a.querySelector('.end-label').textContent.trim(),
    })""")
    return found


def test_the_consultation_shows_six_of_nine_answered_and_who_is_missing(
    desktop: Visit,
) -> None:
    page = desktop.open("/")
    round_ = page.locator("article.round", has=page.get_by_role("heading", name=CONSULTATION))
    expect(round_.locator(".answered-count")).to_have_text("6 av 9 har svarat")
    missing = round_.locator("ul.names.missing > li")
    assert missing.evaluate_all("els => els.map(e => e.dataset.principal)") == [
        "Bräcke", "Härjedalen", "Åre"]
    expect(round_.get_by_role("heading", name=re.compile(r"Har inte svarat \(3\)"))).to_be_visible()
    expect(round_.locator("ul.names.answered > li")).to_have_count(6)


def test_the_adoption_matrix_has_a_row_per_recommendation_and_a_column_per_principal(
    desktop: Visit, site: Site,
) -> None:
    recommendations = site.get("/v1/recommendations")["items"]
    principals: list[str] = []
    for r in recommendations:
        principals += [p["principal"] for p in r["principals"] if p["principal"] not in principals]
    names = {o["ref"]: o["name"] for o in site.get("/v1/organisations")["items"]}
    page = desktop.open("/")
    matrix = page.locator("table.matrix")
    headers = matrix.locator("thead th.principal")
    expect(headers).to_have_text([names[p] for p in principals])
    expect(headers.locator(".org")).to_have_count(len(principals))
    assert headers.locator(".org").evaluate_all("els => els.map(e => e.title)") == principals
    rows = matrix.locator("tbody tr")
    expect(rows).to_have_count(len(recommendations))
    for row in rows.all():
        expect(row.locator("td.cell")).to_have_count(len(principals))
        for summary in row.locator("td.cell summary").all():
            assert summary.locator(".sym").inner_text().strip(), "a symbol, not colour alone"
            assert summary.locator(".label").inner_text().strip(), "and words"
    extension = matrix.locator(f'tr[data-recommendation="{EXTENSION_RECOMMENDATION}"]')
    expect(extension.locator("td.count strong")).to_have_text("9 av 9")
    plan = matrix.locator(f'tr[data-recommendation="{PLAN_RECOMMENDATION}"]')
    expect(plan.locator("td.count strong")).to_have_text("0 av 9")
    expect(plan.locator('td[data-state="pending"]')).to_have_count(9)


def test_selecting_a_cell_shows_body_date_paragraph_and_verification(desktop: Visit) -> None:
    page = desktop.open("/")
    row = page.locator(f'tr[data-recommendation="{EXTENSION_RECOMMENDATION}"]')
    region = row.locator('td[data-principal="RJH"]')
    region.locator("summary").click()
    details = region.locator(".pop")
    expect(details).to_be_visible()
    expect(details).to_contain_text("RS")
    expect(details).to_contain_text("2021-06-22")
    expect(details).to_contain_text("§ 150")
    expect(details.locator(".verified-yes")).to_contain_text("Ja, 2021-06-22")
    municipality = row.locator('td[data-principal="Berg"]')
    municipality.locator("summary").click()
    expect(details).to_be_hidden()
    expect(municipality.locator(".verified-no")).to_contain_text("Ingen justering registrerad")
    municipality.locator(".pop").get_by_role("link").click()
    expect(page.locator("h1")).to_have_text(
        "Berg/KS 2021-09-28 Hemsjukvårdsavtalet t.o.m. 2022-12-31")


def test_an_open_cell_closes_with_its_own_button_and_gives_focus_back(desktop: Visit) -> None:
    page = desktop.open("/")
    row = page.locator(f'tr[data-recommendation="{EXTENSION_RECOMMENDATION}"]')
    cell = row.locator('td[data-principal="RJH"]')
    cell.locator("summary").click()
    close = cell.get_by_role("button", name="Stäng")
    expect(close).to_be_visible()
    box = close.bounding_box()
    assert box is not None and box["width"] >= 24 and box["height"] >= 24
    close.click()
    expect(cell.locator(".pop")).to_be_hidden()
    expect(cell.locator("summary")).to_be_focused()


def test_the_home_care_agreement_ends_2022_12_31_today_and_2021_12_31_as_of_mid_2021(
    desktop: Visit,
) -> None:
    page = desktop.open("/")
    today = bar(agreement(page, AGREEMENT))
    assert (today["until"], today["label"]) == ("2022-12-31", "t.o.m. 2022-12-31")
    assert abs(today["end"] - today["years"]["2023"]) < 1.5, "the bar ends where 2023 begins"
    assert today["pending"] == []
    page.get_by_label("Läget per").fill("2021-06-30")
    page.get_by_role("button", name="Visa").click()
    page.wait_for_url(re.compile(r"as_of=2021-06-30"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Läget per 2021-06-30")
    then = bar(agreement(page, AGREEMENT))
    assert (then["until"], then["label"]) == ("2021-12-31", "t.o.m. 2021-12-31")
    assert abs(then["end"] - then["years"]["2022"]) < 1.5, "the bar ends where 2022 begins"
    assert then["pending"] == ["2022-12-31"], "the recommended extension is drawn as pending"
    desktop.shoot("desktop-as-of-2021-06-30")


def test_each_mark_on_a_timeline_leads_to_the_decisions_behind_it(desktop: Visit) -> None:
    page = desktop.open("/")
    article = agreement(page, AGREEMENT)
    marks = article.locator("a.mark-link")
    expect(marks).to_have_count(3)
    for href in marks.evaluate_all("els => els.map(e => e.getAttribute('href'))"):
        if href.startswith("#"):
            decisions = page.locator(href).locator('a[href^="/decisions/"]')
            assert decisions.count() >= 1, href
        else:
            assert href.startswith("/decisions/"), href
    pending = article.locator("li.change-pending")
    expect(pending).to_contain_text("Ersätts av Gemensam plan för primärvårdsnivå")
    expect(pending.locator(".not-decided")).to_contain_text("Bräcke")
    marks.first.click()
    expect(page.locator(".change:target")).to_contain_text("Förlängning t.o.m. 2021-12-31")


def test_keyboard_reaches_every_cell_and_every_link(desktop: Visit) -> None:
    page = desktop.open("/")
    total = page.evaluate("""() => {
        const all = [...document.querySelectorAll(
            'main a[href], main summary, main button, main input, main [tabindex="0"]')]
            .filter(e => !e.closest('details:not([open]) > :not(summary)'));
        all.forEach((e, i) => e.dataset.kb = i);
        return all.length; }""")
    cells = page.locator(".matrix details").count()
    assert cells == 27
    reached: set[str] = set()
    for _ in range(total * 3):
        page.keyboard.press("Tab")
        mark = page.evaluate("() => document.activeElement.dataset.kb ?? null")
        if mark is not None:
            reached.add(mark)
        if len(reached) == total:
            break
    assert len(reached) == total, f"{total - len(reached)} elements never got focus"
    cell = page.locator('.matrix details[data-row="1"][data-col="2"] > summary')
    cell.focus()
    page.keyboard.press("Enter")
    expect(cell.locator("xpath=..").locator(".pop")).to_be_visible()
    page.keyboard.press("Escape")
    expect(cell.locator("xpath=..").locator(".pop")).to_be_hidden()
    expect(cell).to_be_focused()
    page.keyboard.press("ArrowRight")
    expect(page.locator('.matrix details[data-row="1"][data-col="3"] > summary')).to_be_focused()
    page.keyboard.press("ArrowDown")
    expect(page.locator('.matrix details[data-row="2"][data-col="3"] > summary')).to_be_focused()


def test_the_matter_page_shows_the_whole_timeline_across_organisations(desktop: Visit) -> None:
    page = desktop.open("/")
    page.locator("#agreements").get_by_role("link", name=MATTER).first.click()
    expect(page.locator("h1")).to_have_text("Gemensam plan i länet för vårdnivån primärvård")
    expect(page.locator(".chips li")).to_have_text(["RJH RS/203/2021", "RJH HSN/485/2021"])
    refs = page.locator("li.event.k-decision .event-ref").all_inner_texts()
    assert {"RJH/RS/2021-03-25 §58", "RJH/HSN/2021-04-21 §47", "SVOM/SVOM/2021-06-04 §20"} <= set(
        refs), "decisions of both case numbers and of the joint body"
    dates = page.locator("li.event time").evaluate_all("els => els.map(e => e.dateTime)")
    assert dates == sorted(dates)
    page.get_by_role("link", name="RJH/HSN/2021-04-21 §47").click()
    expect(page.locator("h1")).to_have_text("RJH/HSN/2021-04-21 §47")


def test_english_on_switch_with_the_same_facts(desktop: Visit) -> None:
    page = desktop.open("/")
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    page.get_by_role("link", name="Byt språk till engelska").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator(".answered-count")).to_have_text("6 of 9 answered")
    expect(agreement(page, AGREEMENT).locator(".end-label")).to_have_text("until 2022-12-31")
    page.get_by_label("As of").fill("2021-06-30")
    page.get_by_role("button", name="Show").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("As of 2021-06-30")
    expect(page.locator("html")).to_have_attribute("lang", "en")


def test_a_decision_recorded_through_the_api_appears_without_a_reload(
    browser: Browser, own_site: Site,
) -> None:
    with visit(browser, own_site, DESKTOP) as seen:
        page = seen.open("/")
        expect(page.locator(".live")).to_have_attribute("data-state", "live")
        page.evaluate("window.stillTheSamePage = true")
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))
        row = page.locator(f'tr[data-recommendation="{PLAN_RECOMMENDATION}"]')
        cell = row.locator('td[data-principal="Bräcke"]')
        expect(cell).to_have_attribute("data-state", "pending")
        own_site.record("decisions", {
            "type": "RecordDecision",
            "ref": "Bräcke/KS 2023-11-28 Gemensam plan för primärvårdsnivå",
            "organisation": "Bräcke", "body": "KS", "decided_on": "2023-11-28",
            "points": [{"number": 1,
                        "text": "Gemensam plan för primärvårdsnivå i Jämtland Härjedalen "
                                "fastställs i enlighet med SVOMs rekommendation.",
                        "effects": [{"effect": "adopt_recommendation",
                                     "recommendation": PLAN_RECOMMENDATION}]}],
        })
        expect(cell).to_have_attribute("data-state", "adopted", timeout=15_000)
        expect(row.locator("td.count strong")).to_have_text("1 av 9")
        expect(page.locator('.live [data-when="updated"]')).to_be_visible()
        assert page.evaluate("window.stillTheSamePage") is True
        assert navigations == []
        cell.locator("summary").click()
        expect(cell.locator(".pop")).to_contain_text("2023-11-28")
        seen.shoot("desktop-live-update", full_page=False)


def test_the_page_uses_nothing_from_outside_the_service(desktop: Visit, site: Site) -> None:
    page = desktop.open("/")
    expect(page.locator("table.matrix")).to_be_visible()
    policy = page.request.get(site.url + "/").headers["content-security-policy"]
    assert "default-src 'self'" in policy
    sources = page.evaluate("""() => [...document.querySelectorAll('[src], link[href]')]
        .map(e => e.getAttribute('src') || e.getAttribute('href'))""")
    assert all(s.startswith("/") or s.startswith("data:") for s in sources), sources
    # conftest's visit() also fails the test if the browser fetched anything elsewhere.


VIEWS = [
    ("home", "/", None),
    ("agreements", "/", "#agreements"),
    ("adoption", "/", "#adoption"),
    ("consultations", "/", "#consultations"),
    ("assignments", "/", "#assignments"),
    ("matter", f"/matters/{MATTER}", None),
    ("decision", "/decisions/RJH/RS/2021-03-25 §58", None),
    ("english", "/?lang=en", None),
    ("organisations", "/organisations", None),
    ("register", "/decisions", None),
    ("matters", "/matters", None),
    ("search", "/search?q=hemsjukvårdsavtalet", None),
]


@pytest.mark.parametrize("device", ["desktop", "phone"])
def test_every_view_is_readable_and_photographed(
    device: str, browser: Browser, site: Site,
) -> None:
    """Screenshots of each view; on a phone nothing but the matrix scrolls sideways."""
    with visit(browser, site, DESKTOP if device == "desktop" else PHONE,
               scale=1 if device == "desktop" else 2) as seen:
        for name, path, section in VIEWS:
            page = seen.open(path)
            overflow = page.evaluate(
                "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 0, f"{name} scrolls sideways on {device}"
            seen.shoot(f"{device}-{name}", part=page.locator(section) if section else None)
        page = seen.open("/")
        cell = page.locator(f'tr[data-recommendation="{EXTENSION_RECOMMENDATION}"]'
                            ' td[data-principal="RJH"] summary')
        cell.scroll_into_view_if_needed()
        cell.click()
        page.locator("#adoption-h").scroll_into_view_if_needed()
        seen.shoot(f"{device}-adoption-cell-open", full_page=False)
