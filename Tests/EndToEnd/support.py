"""What the end-to-end browser tests share: their checks, a free port, the demo server's health, a headless
Chromium, and the demo's API."""
import json
import os
import subprocess
import sys
import tempfile
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Integration"))
from demo_server import free_port, stop, wait_healthy  # noqa: E402  (shared with the contract and SDK scripts)

PASSWORD = "campuscloud-demo"
failures = []


def check(condition, what):
    """Prints the check's outcome; a failed one is remembered (the test exits non-zero at its end)."""
    print(("ok   " if condition else "FAIL ") + what, flush=True)
    if not condition:
        failures.append(what)


def finish(what, log=None):
    """Ends a test: exits non-zero saying how many checks failed (after the end of the server's `log`, if given), or
    says they all passed."""
    if failures:
        if log:
            print("the server's log:", log[-4000:])
        sys.exit(f"{len(failures)} {what} check(s) failed")
    print(f"{what}: all checks passed")


def browser(size="1280,1024", prefs=None):
    options = webdriver.ChromeOptions()
    if prefs:
        options.add_experimental_option("prefs", prefs)
    options.binary_location = "/usr/bin/chromium"
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", f"--window-size={size}"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def api(base, method, path, token=None, body=None):
    request = urllib.request.Request(base + "/api/v1" + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read() or b"null")


def start_demo(binary, prefix):
    """`campuscloud demo` on a free port with its own SQLite database in a new folder (open to the sandbox's users, so
    the demo's grading reaches its folders below it). Returns the folder, the base URL and the process (see `stop`)."""
    folder = tempfile.mkdtemp(prefix=prefix)
    os.chmod(folder, 0o755)
    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    environment["LOG_LEVEL"] = "error"
    server = subprocess.Popen([os.path.abspath(binary), "demo", "--port", str(port)], cwd=folder, env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return folder, f"http://127.0.0.1:{port}", server


def sign_in(driver, base, email):
    """Signs in with the demo password through the form, and checks the dashboard opens."""
    driver.delete_all_cookies()
    driver.get(base + "/signin")
    driver.find_element(By.NAME, "email").send_keys(email)
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form[action='/signin'] button[type=submit]").click()
    try:
        WebDriverWait(driver, 30).until(lambda d: "Dashboard" in d.title)
    except Exception:
        pass
    check("Dashboard" in driver.title, f"{email} reaches the dashboard after signing in (title: {driver.title!r})")
