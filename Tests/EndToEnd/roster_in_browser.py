#!/usr/bin/env python3
"""End-to-end, in a real headless Chromium driven by selenium: the demo instructor imports a roster file and sees
the students on the course page; a student cannot open the roster. Starts the built `campuscloud demo` on a free
port with its own SQLite database in a temporary folder, and stops it afterwards.

Usage: roster_in_browser.py PATH/TO/campuscloud
"""
import os
import sys

from selenium.webdriver.common.by import By
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.support.ui import WebDriverWait

from support import browser, check, finish, sign_in, start_demo, stop, wait_healthy

NEW_STUDENTS = [("ada.e2e@demo.test", "Lovelace, Ada"), ("alan.e2e@demo.test", 'Alan "Bombe" Turing')]


def main_text_after(driver, action, marker):
    """Runs `action` (a click that submits a form) and waits until the new page's <main> contains `marker`."""
    action()

    def loaded(d):
        mains = d.find_elements(By.TAG_NAME, "main")
        return mains and marker in mains[0].text and mains[0].text

    try:
        # While the browser swaps pages, an element found a moment ago may already be gone (or the driver may answer
        # that its node left the document): look again.
        return WebDriverWait(driver, 30, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException, WebDriverException)).until(loaded)
    except Exception as error:
        print(f"waiting for {marker!r} failed ({type(error).__name__}) on {driver.current_url}:", driver.page_source[-3000:], flush=True)
        return ""



def main():
    folder, base, server = start_demo(sys.argv[1], "cc-e2e-")
    driver = None
    try:
        wait_healthy(base, server)
        driver = browser()

        # The instructor opens CS340 from the dashboard and imports a roster file.
        sign_in(driver, base, "instructor@demo.test")
        driver.find_element(By.PARTIAL_LINK_TEXT, "CS340").click()
        course_url = driver.current_url
        check("/courses/" in course_url, "the dashboard links to the course page")
        roster = os.path.join(folder, "cs340-roster.csv")
        with open(roster, "w", encoding="utf-8-sig", newline="") as f:
            f.write("email,name,role\r\n")
            for email, name in NEW_STUDENTS:
                f.write(f'{email},"{name.replace(chr(34), chr(34) * 2)}",student\r\n')
        driver.find_element(By.ID, "roster-file").send_keys(roster)
        page = main_text_after(driver, driver.find_element(By.CSS_SELECTOR, "form[action$='/roster'] button[type=submit]").click, "Roster")
        check("Roster imported: 2 rows, 2 added" in page, "the import is confirmed with its counts")
        check(page.count("/set-password?token=") == 2, "an invitation link is shown for each new person")
        driver.get(course_url)
        cells = [cell.text for cell in driver.find_elements(By.CSS_SELECTOR, "#roster ~ table td, section table td")]
        for email, name in NEW_STUDENTS:
            check(email in cells and name in cells, f"{name} ({email}) is on the course page's roster")
        check("student16@demo.test" in cells, "the students who were already there are still listed")

        # A student of the course sees the course but not its roster, and cannot download it.
        sign_in(driver, base, "student16@demo.test")
        driver.get(course_url)
        page = driver.find_element(By.TAG_NAME, "main").text
        check("CS340" in page, "the student sees the course page")
        check("Roster" not in page and "ada.e2e@demo.test" not in page, "the student's course page shows no roster")
        driver.get(course_url + "/roster.csv")
        page = driver.find_element(By.TAG_NAME, "body").text
        check("ada.e2e@demo.test" not in page and "404" in page, "the roster download answers 404 to the student")
    finally:
        if driver is not None:
            driver.quit()
        stop(server)
    finish("end-to-end (roster)")


if __name__ == "__main__":
    main()
