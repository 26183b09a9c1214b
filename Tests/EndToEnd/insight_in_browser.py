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
import os
import sys
import time

from selenium.webdriver.common.by import By

from support import browser, check, finish, sign_in, start_demo, stop, wait_healthy

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



def main_text(driver):
    return driver.find_element(By.TAG_NAME, "main").text


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
        driver.find_element(By.PARTIAL_LINK_TEXT, "CS101").click()
        driver.find_element(By.LINK_TEXT, "How the class is doing").click()
        overview_url = driver.current_url
        driver.find_element(By.XPATH, "//button[normalize-space()='Refresh now']").click()
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
        driver.find_element(By.LINK_TEXT, "Student 2").click()
        page = main_text(driver)
        check("Student 2" in page and "Counted score" in page and "passed" in page, "one student's view shows their scores and tests")
        check("At risk" in page, "a teacher sees the student's at-risk flags on their view")
        shoot(driver, "course-student")

        # Students at risk: checked now, one flag dismissed, then found among the dismissed.
        driver.find_element(By.LINK_TEXT, "Every student at risk").click()
        risk_url = driver.current_url
        driver.find_element(By.XPATH, "//button[normalize-space()='Check now']").click()
        page = main_text(driver)
        rows = driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")
        check("Students at risk" in page and "Last checked" in page and len(rows) > 0, f"the course's students are checked and flagged ({len(rows)} flags)")
        check("No activity for a week" in page or "Due soon, nothing handed in" in page, "each flag says which signal raised it")
        shoot(driver, "course-at-risk")
        first = rows[0].find_element(By.TAG_NAME, "td").text.split("\n")[0]
        rows[0].find_element(By.XPATH, ".//button[normalize-space()='Dismiss']").click()
        check(f"Dismissed the flag on {first}" in main_text(driver), f"a flag on {first} is dismissed, with a notice")
        check(len(driver.find_elements(By.CSS_SELECTOR, "main table tbody tr")) == len(rows) - 1, "a dismissed flag leaves the open list")
        driver.find_element(By.LINK_TEXT, "Show dismissed flags").click()
        check(first in main_text(driver) and len(driver.find_elements(By.XPATH, "//button[normalize-space()='Show again']")) == 1,
              "the dismissed flag is listed among the dismissed, with Show again")
        driver.get(overview_url)
        driver.find_element(By.LINK_TEXT, "Gradebook").click()
        check("Gradebook" in main_text(driver), "the gradebook is a click away")
        shoot(driver, "gradebook")

        # The partner: the programme's analytics, from the programme's page.
        sign_in(driver, base, "mentor@partner.test")
        programmes = [a.get_attribute("href") for a in driver.find_elements(By.CSS_SELECTOR, "main a[href*='/programmes/']")]
        check(len(programmes) >= 1, "the partner's dashboard links to the programme")
        driver.get(programmes[0])
        links = driver.find_elements(By.PARTIAL_LINK_TEXT, "Analytics")
        check(len(links) == 1, "the partner finds the programme's analytics on its page")
        links[0].click()
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
    finally:
        if driver is not None:
            driver.quit()
        stop(server)
    finish("end-to-end (insight)")


if __name__ == "__main__":
    main()
