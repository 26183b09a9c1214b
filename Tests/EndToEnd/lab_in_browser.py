#!/usr/bin/env python3
"""End-to-end, in a real headless Chromium driven by selenium (issue 20): a student starts the demo's CS101
JupyterLab from the lab's page, runs the welcome notebook's cell `print(6 * 7)` and sees 42 inside the page's
embedded JupyterLab, opens a terminal in it and runs a command that writes a file, stops the lab, starts it again and
finds the file; another student's session URL answers 404. Starts the built `campuscloud demo` (its worker sets
JupyterLab up from the wheels scripts/install-deps keeps) on a free port with its own SQLite database in a temporary
folder, and stops it afterwards.

With --labs-origin the platform runs with JupyterLab on origins of its own (CAMPUSCLOUD_LABS_URL): the browser
opens the platform at http://campus.localhost:PORT and each lab at http://SESSION.labs.campus.localhost:PORT (Chromium
sends *.localhost to this machine), and the same steps must work through the ticket and the session origin's cookie.

Usage: lab_in_browser.py PATH/TO/campuscloud [--labs-origin]
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

from support import PASSWORD, api, browser, check, finish, free_port, stop, wait_healthy


def wait(driver, what, condition, seconds=120):
    """Waits until `condition(driver)` is truthy; records a failure (with the page's end) when it never is."""
    try:
        return WebDriverWait(driver, seconds, poll_frequency=0.5,
                             ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(condition)
    except WebDriverException as error:
        print(f"waiting for {what} failed ({type(error).__name__}) on {driver.current_url}:", driver.page_source[-2000:], flush=True)
        if os.environ.get("E2E_SCREENSHOTS"):
            driver.save_screenshot(os.path.join(os.environ["E2E_SCREENSHOTS"], re.sub(r"\W+", "-", what) + ".png"))
        for entry in driver.get_log("browser")[-15:]:
            print("  browser:", entry.get("message", "")[:300], flush=True)
        return None


def click(driver, what, locator, seconds=30):
    """Clicks an element once it can take a click (JupyterLab draws its toolbar in steps: an element found may not
    be ready yet, or be covered for a moment); a plain DOM click when the pointer cannot reach it in time."""
    element = wait(driver, what, expected_conditions.element_to_be_clickable(locator), seconds)
    for _ in range(5):
        try:
            (element or driver.find_element(*locator)).click()
            return True
        except WebDriverException as error:
            print(f"retrying {what} ({type(error).__name__})", flush=True)
            time.sleep(1)
            element = None
    try:
        driver.execute_script("arguments[0].click()", driver.find_element(*locator))
        return True
    except WebDriverException:
        return False


def sign_in(driver, base, email):
    for attempt in range(2):
        driver.get("about:blank")  # the last page (and its JupyterLab) stops before the cookies go
        driver.get(base + "/healthz")
        driver.delete_all_cookies()
        driver.get(base + "/signin")
        driver.find_element(By.NAME, "email").send_keys(email)
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
        if wait(driver, "the dashboard", lambda d: "Dashboard" in d.title, 30) is not None:
            return
        # Seen once in a few runs: the form refused as expired right after a JupyterLab page; once more, then fail.
        print(f"signing in as {email} again; cookies were:", driver.get_cookies(), flush=True)
    check(False, f"{email} signs in")


def start_lab(driver, base, lab):
    """From the lab's page, "Start the lab"; returns the session's id (from the session page's address)."""
    driver.get(f"{base}/labs/{lab}")
    driver.find_element(By.XPATH, "//button[normalize-space()='Start the lab']").click()
    wait(driver, "the session page", lambda d: re.search(r"/labs/sessions/[0-9a-f-]{36}$", d.current_url, re.I), 60)
    return driver.current_url.rsplit("/", 1)[1].lower()


def in_jupyterlab(driver, seconds=120):
    """Switches into the session page's embedded JupyterLab once it shows its main area."""
    frame = wait(driver, "the embedded JupyterLab", lambda d: d.find_element(By.ID, "jupyterlab"), 30)
    driver.switch_to.frame(frame)
    return wait(driver, "JupyterLab's main area", lambda d: d.find_element(By.ID, "jp-main-dock-panel"), seconds) is not None


def contents(driver, path):
    """A file's text through JupyterLab's own contents API, asked from inside the page (its cookie, its origin)."""
    return driver.execute_async_script(
        "var done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(function (r) { return r.ok ? r.json() : null; })"
        ".then(function (j) { done(j ? j.content : null); }).catch(function () { done(null); });", path)


def main():
    binary = os.path.abspath(sys.argv[1])
    folder = tempfile.mkdtemp(prefix="cc-e2e-lab-")
    os.chmod(folder, 0o711)  # the sandbox's users reach their folders below it
    port = free_port()
    base = service = f"http://127.0.0.1:{port}"  # the browser's address, and the API's
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["LOG_LEVEL"] = os.environ.get("E2E_LOG_LEVEL", "error")
    labs_origin = "--labs-origin" in sys.argv[2:]
    if labs_origin:
        base = f"http://campus.localhost:{port}"
        environment["CAMPUSCLOUD_PUBLIC_URL"] = base
        environment["CAMPUSCLOUD_LABS_URL"] = f"http://labs.campus.localhost:{port}"
    server = subprocess.Popen([binary, "demo", "--port", str(port)], cwd=folder, env=environment,
                              stdout=open(os.path.join(folder, "server.log"), "w"), stderr=subprocess.STDOUT, start_new_session=True)
    driver = None
    try:
        wait_healthy(service, server)
        instructor = api(service, "POST", "/auth/token", body={"email": "instructor@demo.test", "password": PASSWORD})["token"]
        course = next(c for c in api(service, "GET", "/courses", instructor)["items"] if c["code"] == "CS101")["id"]
        lab = next(l for l in api(service, "GET", f"/courses/{course}/labs", instructor) if l["kind"] == "jupyterlab")["id"]
        for _ in range(600):  # the demo's worker sets JupyterLab up from the wheels
            status = api(service, "GET", f"/labs/{lab}", instructor)["setupStatus"]
            if status != "pending":
                break
            time.sleep(1)
        check(status == "ready", f"the demo's JupyterLab environment is set up (status {status})")
        if status != "ready":
            sys.exit(api(service, "GET", f"/labs/{lab}", instructor).get("setupLog") or "no set-up log")
        driver = browser("1400,1100")
        driver.set_script_timeout(30)

        # A student starts the lab from its page and works in the embedded JupyterLab.
        sign_in(driver, base, "student1@demo.test")
        session = start_lab(driver, base, lab)

        # The session page keeps the time the allowance pays for live: it counts down by itself (and is read again
        # from the platform every 20 s).
        def left_seconds():
            found = re.fullmatch(r"(?:(\d+) h )?(\d+) min (\d+) s more", driver.find_element(By.ID, "seconds-left").text)
            return None if not found else int(found.group(1) or 0) * 3600 + int(found.group(2)) * 60 + int(found.group(3))
        first = left_seconds()
        time.sleep(2.5)
        second = left_seconds()
        check(first is not None and second is not None and 1 <= first - second <= 5,
              f"the session page counts down the time the allowance pays for, live ({first} s, then {second} s)")
        check(in_jupyterlab(driver), "the session page embeds JupyterLab, which starts")
        if labs_origin:
            frame_origin = driver.execute_script("return window.location.origin")
            check(frame_origin == f"http://{session}.labs.campus.localhost:{port}", f"JupyterLab runs on the session's own origin ({frame_origin})")
        lab_base = f"/labs/sessions/{session}/"
        # Open the welcome notebook (a start file) and run its code cell.
        driver.execute_script("window.location.href = arguments[0]", lab_base + "lab/tree/welcome.ipynb")
        cell = wait(driver, "the notebook's code cell", lambda d: d.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell .cm-content"), 120)
        check(cell is not None, "the welcome notebook (a start file) opens")
        output = None
        for _ in range(5):  # JupyterLab redraws the cell while the kernel starts: find it again and retry
            try:
                cell = driver.find_element(By.CSS_SELECTOR, ".jp-Notebook .jp-CodeCell .cm-content")
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", cell)
                ActionChains(driver).move_to_element(cell).click().key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
            except WebDriverException as error:
                print(f"retrying the cell ({type(error).__name__})", flush=True)
                time.sleep(1)
                continue
            output = wait(driver, "the cell's output", lambda d: [e.text for e in d.find_elements(By.CSS_SELECTOR, ".jp-OutputArea-output")
                                                                 if e.text.strip() == "42"], 30)
            if output:
                break
        check(bool(output), "running the cell print(6 * 7) shows 42 in JupyterLab")

        # A terminal inside JupyterLab, opened from its launcher: a command typed there writes a file in the home.
        driver.execute_script("window.location.href = arguments[0]", lab_base + "lab")
        wait(driver, "JupyterLab's main area", lambda d: d.find_element(By.ID, "jp-main-dock-panel"), 60)
        for no in driver.find_elements(By.XPATH, "//button[@title='No']"):  # JupyterLab's news question
            try:
                no.click()
            except WebDriverException:
                pass  # gone by itself
        written = None
        if click(driver, "the launcher button", (By.CSS_SELECTOR, "[data-command='launcher:create']")):
            if click(driver, "the launcher's terminal", (By.XPATH, "//div[contains(@class, 'jp-LauncherCard')][.//p[normalize-space()='Terminal']]")):
                check(wait(driver, "the terminal", lambda d: d.find_element(By.CSS_SELECTOR, ".jp-Terminal .xterm"), 60) is not None,
                      "JupyterLab's launcher opens a terminal")
                time.sleep(2)  # the shell's prompt
                for _ in range(3):
                    try:
                        driver.find_element(By.CSS_SELECTOR, ".jp-Terminal .xterm").click()
                        ActionChains(driver).send_keys("echo hi-$((40+2)) > from-terminal.txt" + Keys.ENTER).perform()
                    except WebDriverException as error:
                        print(f"retrying the terminal ({type(error).__name__})", flush=True)
                    for _ in range(20):
                        written = contents(driver, lab_base + "api/contents/from-terminal.txt")
                        if written:
                            break
                        time.sleep(0.5)
                    if written:
                        break
        check(written == "hi-42\n", f"echo in JupyterLab's terminal wrote the file (read back: {written!r})")

        # Stopped from the session page, started again: the file is there.
        driver.switch_to.default_content()
        driver.get(f"{base}/labs/sessions/{session}")
        driver.find_element(By.XPATH, "//button[normalize-space()='Stop the lab']").click()
        stopped = wait(driver, "the stopped session", lambda d: "stopped" in d.find_element(By.ID, "status").text, 60)
        check(bool(stopped), "the lab stops from the session page")
        again = start_lab(driver, base, lab)
        check(again != session, "starting again makes a new session")
        check(in_jupyterlab(driver), "the new session's JupyterLab starts")
        check(contents(driver, f"/labs/sessions/{again}/api/contents/from-terminal.txt") == "hi-42\n",
              "the file written in the first session is in the second")
        driver.switch_to.default_content()

        # Another student reaches neither session, once the first has signed out on this computer. (Cookies cleared
        # without signing out leave the first student's sign-in alive on the server: a reply to one of their pages'
        # requests still under way could set its cookie again, as it did on a loaded machine.)
        driver.get(base + "/")
        driver.find_element(By.XPATH, "//header//button[normalize-space()='Sign out']").click()
        wait(driver, "the signed-out page", lambda d: "Signed in as" not in d.find_element(By.TAG_NAME, "body").text, 30)
        sign_in(driver, base, "student2@demo.test")
        def answer_text(address):
            # The page's text once it has any (a loaded machine may hand back the page before its body is drawn).
            driver.get(address)
            try:
                return WebDriverWait(driver, 20, ignored_exceptions=(WebDriverException,)).until(
                    lambda d: d.find_element(By.TAG_NAME, "body").text.strip() or None)
            except Exception:
                return driver.find_element(By.TAG_NAME, "body").text
        signed_in = driver.find_element(By.TAG_NAME, "header").text
        for sid in (session, again):
            body = answer_text(f"{base}/labs/sessions/{sid}/lab")
            check("404" in body or "Not Found" in body, f"another student's request for a session's JupyterLab answers 404 ({body[:60]!r}; "
                  f"at {driver.current_url}; the header said {signed_in!r})")
        check("404" in answer_text(f"{base}/labs/sessions/{again}"), "another student's request for the session page answers 404")
    except Exception as error:  # the server's log below says why (it may have stopped: its exit status is printed)
        traceback.print_exc()
        check(False, f"the steps ran to the end ({type(error).__name__}; the server's exit status: {server.poll()})")
    finally:
        if driver is not None:
            driver.quit()
        stop(server, timeout=60, group=True)
    log = open(os.path.join(folder, "server.log")).read()
    shutil.rmtree(folder, ignore_errors=True)
    finish("end-to-end (labs" + (", own origin" if labs_origin else "") + ")", log)


if __name__ == "__main__":
    main()
