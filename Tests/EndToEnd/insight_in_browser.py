#!/usr/bin/env python3
"""End-to-end, in a real headless Chromium driven by selenium: the first screens and the insight pages of the demo.
A student's dashboard shows what is due, their latest grades once the demo's hand-ins are graded, and their credits
with a sparkline; the instructor opens "How the class is doing" (charts drawn as SVG on the server), refreshes it,
opens one student's view, the students at risk (checks them, dismisses a flag) and the gradebook; a student is refused
the overview and the students at risk. Screenshots of each page are saved
under $E2E_OUTPUT (default .build/test-output/insight). Starts the built `campuscloud demo` on a free port with its
own SQLite database in a temporary folder, and stops it afterwards.

Usage: insight_in_browser.py PATH/TO/campuscloud
"""
import json
import os
import sys
import time
import urllib.request
import uuid

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from support import PASSWORD, api, browser, check, finish, sign_in, start_demo, stop, wait_healthy

OUTPUT = os.environ.get("E2E_OUTPUT") or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "test-output", "insight")


def shoot(driver, name):
    os.makedirs(OUTPUT, exist_ok=True)
    path = os.path.join(OUTPUT, name + ".png")
    # The whole page, not just the window: as tall as its content.
    height = driver.execute_script("return document.documentElement.scrollHeight")
    driver.set_window_size(1280, min(max(height, 800), 6000))
    driver.save_screenshot(path)
    driver.set_window_size(1280, 1024)
    check(os.path.getsize(path) > 10_000, f"a screenshot of {name} is saved ({path})")



def loaded(driver):
    WebDriverWait(driver, 30).until(lambda d: d.execute_script("return document.readyState") == "complete")


def main_text(driver):
    """The page's main text once the page has loaded (read while a new page replaces the old one, it may be gone)."""
    for _ in range(50):
        try:
            loaded(driver)
            return driver.find_element(By.TAG_NAME, "main").text
        except (NoSuchElementException, StaleElementReferenceException, WebDriverException):
            time.sleep(0.2)
    return driver.find_element(By.TAG_NAME, "main").text


def open_by_click(driver, element):
    """Clicks a link or a form's button and waits for the page it leads to: a click returns before the next page
    is there, and reading at once reads the old page or none."""
    old = driver.find_element(By.TAG_NAME, "html")
    element.click()

    def gone(_):
        # Chromium may report a node of the old document as "not in the document" rather than stale: gone either way.
        try:
            old.is_enabled()
            return False
        except WebDriverException:
            return True
    WebDriverWait(driver, 30).until(gone)
    loaded(driver)


STATS = """
def mean_by_name(lines):
    table = {}
    for line in lines:
        name, score = line.split(",")
        table.setdefault(name, []).append(int(score))
    return {name: sum(scores) / len(scores) for name, scores in table.items()}

def best(table):
    top, top_mean = None, -1
    for name, mean in table.items():
        if mean > top_mean:
            top, top_mean = name, mean
    return top, top_mean
"""
RENAMED = STATS.replace("table", "marks").replace("name", "who").replace("score", "mark").replace("top", "winner").replace("mean", "avg")
OTHER = """
import statistics

class Scores:
    def __init__(self):
        self.rows = []

    def add(self, text):
        student, value = text.split(",")
        self.rows.append((student, float(value)))

    def median(self):
        return statistics.median(v for _, v in self.rows)
"""


def hand_in(base, email, assignment_id, files):
    """A student's hand-in through the API (multipart, field files), as a client sends it."""
    token = api(base, "POST", "/auth/token", body={"email": email, "password": PASSWORD})["token"]
    boundary = "----e2e-" + uuid.uuid4().hex
    body = b""
    for name, text in files.items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
                 "Content-Type: text/plain\r\n\r\n").encode() + text.encode() + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(f"{base}/api/v1/assignments/{assignment_id}/submissions", method="POST", data=body,
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}", "Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        check(answer.status == 201, f"{email} hands in Lab 1")


def main():
    folder, base, server = start_demo(sys.argv[1], "cc-e2e-insight-")
    driver = None
    try:
        wait_healthy(base, server)
        driver = browser()

        # Student 2: the demo's hand-ins are graded by its workers within seconds; the dashboard shows them when done.
        sign_in(driver, base, "student2@demo.test")
        deadline = time.time() + 120
        while time.time() < deadline and " / " not in driver.find_element(By.ID, "grades").find_element(By.XPATH, "..").text:
            time.sleep(2)
            driver.get(base + "/dashboard")
        page = main_text(driver)
        check("Due next" in page and "Lab 2: a calculator" in page and "left" in page, "the dashboard lists what is due with the time left")
        grades = driver.find_element(By.ID, "grades").find_element(By.XPATH, "..").text
        check("Lab 1: hello and add" in grades and " / " in grades, "the dashboard shows the student's latest graded hand-in with its score")
        sparks = driver.find_elements(By.CSS_SELECTOR, "svg.spark")
        check(len(sparks) >= 1, "each allowance has a sparkline of its use, drawn on the server")
        check("AI requests:" in page and "Lab time:" in page, "the week's AI requests and lab minutes are shown")
        shoot(driver, "dashboard-student")

        # The instructor: the course overview, refreshed so that the grading above is in it.
        sign_in(driver, base, "instructor@demo.test")
        open_by_click(driver, driver.find_element(By.PARTIAL_LINK_TEXT, "CS101"))
        open_by_click(driver, driver.find_element(By.LINK_TEXT, "How the class is doing"))
        overview_url = driver.current_url
        open_by_click(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Refresh now']"))
        page = main_text(driver)
        check("How the class is doing" in page and "Hand-ins per day" in page, "the overview opens from the course page")
        charts = driver.find_elements(By.CSS_SELECTOR, "main figure svg")
        check(len(charts) >= 3, f"its charts are SVG drawn on the server ({len(charts)} found)")
        check("failing" in page, "the most failed tests are named")
        check("Student 2" in page and "Student 10" in page, "every student is listed")
        names = [link.text for link in driver.find_elements(By.CSS_SELECTOR, "#people ~ table a, section table a") if link.text.startswith("Student ")]
        numbers = [int(name.split()[1]) for name in names if name.split()[1].isdigit()]
        check(numbers == sorted(numbers) and len(numbers) >= 10, "students are in the natural order of their names (2 before 10)")
        shoot(driver, "course-overview")
        open_by_click(driver, driver.find_element(By.LINK_TEXT, "Student 2"))
        page = main_text(driver)
        check("Student 2" in page and "Counted score" in page and "passed" in page, "one student's view shows their scores and tests")
        check("At risk" in page, "a teacher sees the student's at-risk flags on their view")
        shoot(driver, "course-student")

        # Students at risk: checked now, one flag dismissed, then found among the dismissed.
        open_by_click(driver, driver.find_element(By.LINK_TEXT, "Every student at risk"))
        risk_url = driver.current_url
        open_by_click(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Check now']"))
        page = main_text(driver)
        rows = driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")
        check("Students at risk" in page and "Last checked" in page and len(rows) > 0, f"the course's students are checked and flagged ({len(rows)} flags)")
        check("No activity for a week" in page or "Due soon, nothing handed in" in page, "each flag says which signal raised it")
        shoot(driver, "course-at-risk")
        first = rows[0].find_element(By.TAG_NAME, "td").text.split("\n")[0]
        open_by_click(driver, rows[0].find_element(By.XPATH, ".//button[normalize-space()='Dismiss']"))
        # The form's answer is a redirect: wait for the page it leads to before reading it.
        WebDriverWait(driver, 30).until(lambda d: "Dismissed the flag" in d.page_source)
        check(f"Dismissed the flag on {first}" in main_text(driver), f"a flag on {first} is dismissed, with a notice")
        check(len(driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")) == len(rows) - 1, "a dismissed flag leaves the open list")
        open_by_click(driver, driver.find_element(By.LINK_TEXT, "Show dismissed flags"))
        check(first in main_text(driver) and len(driver.find_elements(By.XPATH, "//button[normalize-space()='Show again']")) == 1,
              "the dismissed flag is listed among the dismissed, with Show again")
        driver.get(overview_url)
        open_by_click(driver, driver.find_element(By.LINK_TEXT, "Gradebook"))
        check("Gradebook" in main_text(driver), "the gradebook is a click away")
        shoot(driver, "gradebook")

        # Code similarity: three more students hand in Lab 1, two of them the same program under other names; the
        # instructor runs a check from the assignment's page and opens the most similar pair side by side.
        instructor = api(base, "POST", "/auth/token", body={"email": "instructor@demo.test", "password": PASSWORD})["token"]
        cs101 = next(c for c in api(base, "GET", "/courses", instructor)["items"] if c["code"] == "CS101")
        lab1 = next(a for a in api(base, "GET", f"/courses/{cs101['id']}/assignments", instructor) if a["title"].startswith("Lab 1"))
        basics = {"hello.py": "print('Hello, world')\n", "add.py": "a, b = map(int, input().split())\nprint(a + b)\n"}
        for email, stats in (("student4@demo.test", STATS), ("student5@demo.test", RENAMED), ("student6@demo.test", OTHER)):
            hand_in(base, email, lab1["id"], {**basics, "stats.py": stats})
        driver.get(base + f"/assignments/{lab1['id']}")
        open_by_click(driver, driver.find_element(By.LINK_TEXT, "Code similarity"))
        similarity_url = driver.current_url
        open_by_click(driver, driver.find_element(By.XPATH, "//button[normalize-space()='Run a check']"))
        check("The check is queued" in main_text(driver), "a check is queued from the assignment's similarity page")
        shoot(driver, "similarity-checks")
        open_by_click(driver, driver.find_element(By.CSS_SELECTOR, "section[aria-labelledby=checks] table tbody a"))
        check_url = driver.current_url
        deadline = time.time() + 60
        while time.time() < deadline and "Status: done" not in main_text(driver):
            time.sleep(2)
            driver.get(check_url)
        page = main_text(driver)
        check("Status: done" in page and "hand-ins compared" in page, "the check runs on the queue and reports what it compared")
        check(len(driver.find_elements(By.CSS_SELECTOR, "main figure svg")) == 1, "with a histogram drawn on the server")
        first = driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")[0].text
        check("Student 4" in first and "Student 5" in first, f"the renamed copy is the most similar pair ({first!r})")
        shoot(driver, "similarity-check")
        open_by_click(driver, driver.find_elements(By.CSS_SELECTOR, "main table tbody tr a")[0])
        shared = driver.find_elements(By.CSS_SELECTOR, "table.code tr.shared")
        check(len(shared) >= 8 and "stats.py" in main_text(driver), f"the pair side by side marks the shared lines ({len(shared)})")
        shoot(driver, "similarity-pair")

        # The partner: the programme's analytics, from the programme's page.
        sign_in(driver, base, "mentor@partner.test")
        programmes = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "main a[href*='/programmes/']")]
        check(len(programmes) >= 1, "the partner's dashboard links to the programme")
        driver.get(programmes[0])
        links = driver.find_elements(By.PARTIAL_LINK_TEXT, "Analytics")
        check(len(links) == 1, "the partner finds the programme's analytics on its page")
        open_by_click(driver, links[0])
        page = main_text(driver)
        check("Credits by meter" in page and "Grant used" in driver.page_source and "Cost per active learner".lower() in page.lower(),
              "the analytics show the grant against time, credits by meter and cost per active learner")
        check(len(driver.find_elements(By.CSS_SELECTOR, "main figure svg")) >= 3, "with charts drawn on the server")
        check("student1@demo.test" not in driver.page_source and "Student 1" not in page, "and never a person")
        shoot(driver, "programme-analytics")

        # A student of the course is refused the overview.
        sign_in(driver, base, "student3@demo.test")
        driver.get(overview_url)
        check("404" in driver.find_element(By.TAG_NAME, "body").text and "How the class is doing" not in driver.page_source,
              "a student is answered 404 on the overview")
        driver.get(risk_url)
        check("404" in driver.find_element(By.TAG_NAME, "body").text and "Students at risk" not in driver.page_source,
              "a student is answered 404 on the students at risk")
        for what, url in (("the assignment's similarity checks", similarity_url), ("a check's results", check_url)):
            driver.get(url)
            check("404" in driver.find_element(By.TAG_NAME, "body").text and "similar" not in main_text(driver).lower(),
                  f"a student is answered 404 on {what}")
    finally:
        if driver is not None:
            driver.quit()
        stop(server)
    finish("end-to-end (insight)")


if __name__ == "__main__":
    main()
