#!/usr/bin/env python3
"""End-to-end, in a real headless Chromium driven by selenium: CampusCloud inside an LMS's frame (issue 21). The LMS
stand-in (Tests/Integration/lms_standin.py) serves its course page at http://127.0.0.1:L and frames the tool at
http://localhost:P, a different site, as Canvas or Moodle do. Through it:

- an instructor's first launch from the LMS page creates the course and shows it inside the frame;
- the instructor's "add external tool" (Deep Linking) creates an assignment in the frame, and the LMS receives the
  tool's signed answer and verifies it against the tool's published key set;
- a student's launch lands in the course inside the frame;
- a browser that keeps no cookies for the tool inside the LMS's page (as Safari does: a content setting blocks
  localhost's cookies when the top page is the LMS) launches through the LMS's storage (postMessage) and continues in
  a window of its own, signed in; and, when the LMS offers no storage, through the login opened as a new window.

Usage: lti_in_browser.py PATH/TO/campuscloud
"""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

from support import PASSWORD, api, browser, check, finish, free_port, stop, wait_healthy

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_ID = "campuscloud-e2e"


def wait_for(driver, condition, what, seconds=30):
    """Waits until `condition(driver)` is truthy; prints the page when it never is."""
    try:
        # A page being swapped can make the driver answer that a node left the document: look again.
        return WebDriverWait(driver, seconds, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException, WebDriverException)).until(condition)
    except Exception as error:
        print(f"waiting for {what} failed ({type(error).__name__}) on {driver.current_url}:", driver.page_source[-2000:], flush=True)
        return None


def main_text(driver):
    mains = driver.find_elements(By.TAG_NAME, "main")
    return mains[0].text if mains else driver.find_element(By.TAG_NAME, "body").text


def in_tool_frame(driver, lms, query, marker, what):
    """Opens the LMS's course page with `query`, enters the tool's frame, and waits for `marker` in it."""
    driver.switch_to.default_content()
    driver.get(f"{lms}/course?{query}")
    wait_for(driver, lambda d: d.find_elements(By.ID, "tool"), "the LMS page")
    driver.switch_to.frame("tool")
    return wait_for(driver, lambda d: marker in main_text(d) and main_text(d), what)


def lms_log(lms):
    with urllib.request.urlopen(lms + "/control/log", timeout=10) as answer:
        return json.loads(answer.read())


def new_window(driver, click, marker, what):
    """Clicks `click` (which opens a window), switches to the new window and waits for `marker` there."""
    before = set(driver.window_handles)
    click()
    opened = wait_for(driver, lambda d: set(d.window_handles) - before, what + ": a new window")
    if not opened:
        return None
    driver.switch_to.window(opened.pop())
    return wait_for(driver, lambda d: marker in main_text(d) and main_text(d), what)


def main():
    binary = os.path.abspath(sys.argv[1])
    folder = tempfile.mkdtemp(prefix="cc-e2e-lti-")
    port = free_port()
    tool, service = f"http://localhost:{port}", f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment.update({"LOG_LEVEL": "error", "CAMPUSCLOUD_PUBLIC_URL": tool})
    server_log = open(os.path.join(folder, "server.log"), "w")
    server = subprocess.Popen([binary, "demo", "--port", str(port)], cwd=folder, env=environment,
                              stdout=server_log, stderr=subprocess.STDOUT)
    standin = subprocess.Popen([sys.executable, os.path.join(HERE, "..", "Integration", "lms_standin.py"), CLIENT_ID, tool],
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    drivers = []
    try:
        lms_port = int(standin.stdout.readline().split()[1])
        lms = f"http://127.0.0.1:{lms_port}"
        wait_healthy(service, server)
        admin = api(service, "POST", "/auth/token", body={"email": "admin@demo.test", "password": PASSWORD})["token"]
        programme = api(service, "GET", "/programmes", admin)["items"][0]["id"]
        api(service, "POST", "/lti/registrations", admin, {
            "name": "LMS stand-in", "issuer": lms, "clientID": CLIENT_ID, "authLoginURL": lms + "/authorize", "tokenURL": lms + "/token",
            "keySetURL": lms + "/jwks", "programmeID": programme, "deploymentIDs": "1:campus", "emailDomains": "uni.test"})

        driver = browser()
        drivers.append(driver)
        # An instructor's first launch, inside the LMS's frame: the course is made and shown there.
        text = in_tool_frame(driver, lms, "person=teacher&message=link&storage=1", "LMS101", "the instructor's course in the frame")
        check(bool(text) and "Cloud computing in the LMS" in text, "an instructor's first launch shows the new course inside the LMS's frame")
        driver.switch_to.default_content()
        check(driver.current_url.startswith(lms + "/course"), "the LMS's page stays the top page")

        # Deep linking: "add external tool" creates an assignment; the LMS verifies the signed answer.
        form = in_tool_frame(driver, lms, "person=teacher&message=deep", "Create and link", "the deep linking choice in the frame")
        check(bool(form), "the instructor's deep linking launch shows the choice inside the frame")
        if form:
            driver.find_element(By.ID, "n-title").send_keys("Lab 1: hello cloud")
            driver.find_element(By.XPATH, "//button[normalize-space()='Create and link']").click()
            linked = wait_for(driver, lambda d: "Linked" in d.find_element(By.TAG_NAME, "body").text and d.find_element(By.TAG_NAME, "body").text,
                              "the LMS's deep linking return")
            check(bool(linked) and "Lab 1: hello cloud" in linked, "the frame returns to the LMS with the new assignment")
            received = lms_log(lms)["deep_links"]
            items = received[-1].get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", []) if received else []
            check(len(items) == 1 and items[0].get("lineItem", {}).get("scoreMaximum") == 100,
                  f"the LMS verified the tool's signed answer: one link with its grade column ({items})")

        # A student's launch: into the course, inside the frame.
        text = in_tool_frame(driver, lms, "person=student&message=link&storage=1", "LMS101", "the student's course in the frame")
        check(bool(text) and "Sign in" not in text, "a student's launch shows the course inside the LMS's frame")
        driver.quit()
        drivers.remove(driver)

        # A browser that keeps no cookies for the tool inside the LMS's page (Safari-like).
        blocked = {f"{tool},{lms}": {"setting": 2}}
        driver = browser(prefs={"profile.content_settings.exceptions.cookies": blocked})
        drivers.append(driver)
        opened = in_tool_frame(driver, lms, "person=student&message=link&storage=1", "opens in a new window", "the storage path's new-window page")
        check(bool(opened), "without cookies in the frame, the launch is confirmed through the LMS's storage and offers a new window")
        stored = lms_log(lms)["stored"]
        check(bool(stored) and all(value == "" for value in stored.values()),
              f"the state put in the LMS's storage is cleared once the launch has used it ({stored})")
        if opened:
            text = new_window(driver, driver.find_element(By.ID, "open-new-window").click, "LMS101", "the course in its own window")
            check(bool(text) and "Sign in" not in text, "the new window opens the course, signed in")
            check(driver.current_url.startswith(tool + "/courses/"), f"the new window is the tool's own page ({driver.current_url})")
            driver.close()
            driver.switch_to.window(driver.window_handles[0])
        # The page's own checks: a storage that answers with another value is not believed; a storage frame on an
        # origin that is not the LMS's is not used (the login offers the new window instead).
        driver.switch_to.default_content()
        refused = in_tool_frame(driver, lms, "person=student&message=link&storage=wrong", "could not be matched", "the refusal of a wrong stored value")
        check(bool(refused), "a storage answering with another state is not believed: the launch is refused in the frame")
        driver.switch_to.default_content()
        foreign = in_tool_frame(driver, lms, "person=student&message=link&storage=foreign", "Open CampusCloud in a new window", "the foreign storage ignored")
        check(bool(foreign), "a storage frame on another origin than the LMS's is not used")
        driver.switch_to.default_content()
        offered = in_tool_frame(driver, lms, "person=teacher&message=link", "Open CampusCloud in a new window", "the login's new-window offer")
        check(bool(offered), "without cookies and without the LMS's storage, the login offers a new window")
        if offered:
            text = new_window(driver, driver.find_element(By.ID, "open-new-window").click, "LMS101", "the instructor's course in its own window")
            check(bool(text) and "Cloud computing in the LMS" in text, "the login in a window of its own launches the instructor into the course")
    except WebDriverException as error:
        check(False, f"the browser failed: {error}")
    finally:
        for driver in drivers:
            driver.quit()
        stop(server, standin, timeout=10)
    server_log.close()
    with open(os.path.join(folder, "server.log")) as log:
        finish("end-to-end (LTI)", log.read())


if __name__ == "__main__":
    main()
