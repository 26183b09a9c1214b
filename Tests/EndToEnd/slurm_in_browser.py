#!/usr/bin/env python3
"""End-to-end, in a real headless Chromium driven by selenium: the Slurm pages (issue 24). The demo administrator
adds a cluster on /admin/slurm, is refused a change that gives slurmrestd's address without its token variable (the
form comes back open with what was sent), changes the cluster's core limit, and sends the demo project's jobs there
from the project's page; the project's job form then offers the cluster's cores and says the job runs there; the
cluster cannot be removed while the project uses it, and can once the jobs go back to the platform's workers. A
student cannot open the page. No cluster needs to run: nothing is submitted. Starts the built `campuscloud demo` on a
free port with its own SQLite database in a temporary folder, and stops it afterwards.

Usage: slurm_in_browser.py PATH/TO/campuscloud
"""
import os
import sys

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

from support import api, browser, check, finish, sign_in, start_demo, stop, wait_healthy, PASSWORD


def submit_and_read(driver, button, marker):
    """Clicks a form's button and waits until the next page's <main> holds `marker`; that page's text ("" if never)."""
    old = driver.find_element(By.TAG_NAME, "html")
    button.click()

    def ready(d):
        try:
            old.is_enabled()
            return False  # still the old page
        except WebDriverException:
            pass
        mains = d.find_elements(By.TAG_NAME, "main")
        return mains and marker in mains[0].text and mains[0].text

    try:
        return WebDriverWait(driver, 30, ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(ready)
    except Exception as error:
        print(f"waiting for {marker!r} failed ({type(error).__name__}) on {driver.current_url}:", driver.page_source[-2000:], flush=True)
        return ""


def fill(form, values):
    for name, value in values.items():
        field = form.find_element(By.NAME, name)
        if field.tag_name == "select":
            Select(field).select_by_value(value)
        else:
            field.clear()
            field.send_keys(value)


def main():
    folder, base, server = start_demo(sys.argv[1], "cc-e2e-slurm-")
    driver = None
    try:
        wait_healthy(base, server)
        # The staging folder the cluster's settings name: root's, not writable by the service account.
        staging = os.path.join(folder, "staging")
        os.makedirs(staging, mode=0o755)
        driver = browser()

        sign_in(driver, base, "student20@demo.test")
        driver.get(base + "/admin/slurm")
        check("404" in driver.find_element(By.TAG_NAME, "body").text, "a student is not shown the Slurm clusters page")

        sign_in(driver, base, "admin@demo.test")
        driver.get(base + "/admin/slurm")
        page = driver.find_element(By.TAG_NAME, "main").text
        check("No cluster yet." in page, "the administrator's page starts with no cluster")
        add = driver.find_element(By.CSS_SELECTOR, "form[action='/admin/slurm/clusters']")
        fill(add, {"name": "campus-hpc", "partition": "campus", "serviceAccount": "nobody", "stagingFolder": staging,
                   "completionLog": os.path.join(folder, "jobcomp.log"), "maxCores": "8", "maxMemoryMB": "16000", "maxGPUs": "2",
                   "maxMinutes": "600", "sandbox": "off"})
        page = submit_and_read(driver, add.find_element(By.CSS_SELECTOR, "button[type=submit]"), "campus-hpc")
        check("8 cores, 16000 MB, 2 GPUs, 600 min" in page, "the added cluster is listed with its limits")
        check("the Slurm commands" in page and "jobcomp.log" in page, "it is reached by the Slurm commands and read from its completion log")

        # A change giving slurmrestd's address alone is refused; the form comes back open with what was sent.
        details = driver.find_element(By.CSS_SELECTOR, "details")
        details.find_element(By.TAG_NAME, "summary").click()
        change = details.find_element(By.CSS_SELECTOR, "form[action^='/admin/slurm/clusters/']")
        fill(change, {"restURL": "https://slurm.example.edu:6820", "maxCores": "4"})
        page = submit_and_read(driver, change.find_element(By.CSS_SELECTOR, "button[type=submit]"), "rest.tokenVariable is missing")
        check("rest.tokenVariable is missing" in page, "slurmrestd's address without its token variable is refused")
        reopened = driver.find_element(By.CSS_SELECTOR, "details")
        check(reopened.get_attribute("open") is not None, "the refused change form is shown open")
        change = reopened.find_element(By.CSS_SELECTOR, "form[action^='/admin/slurm/clusters/']")
        check(change.find_element(By.NAME, "restURL").get_attribute("value") == "https://slurm.example.edu:6820", "with the address as sent")
        check("8 cores" in page, "and the cluster is unchanged")
        fill(change, {"restURL": "", "maxCores": "4"})
        page = submit_and_read(driver, change.find_element(By.CSS_SELECTOR, "button[type=submit]"), "4 cores")
        check("4 cores, 16000 MB, 2 GPUs, 600 min" in page, "the change is saved")

        # The demo project's jobs go to the cluster, chosen on the project's page.
        token = api(base, "POST", "/auth/token", body={"email": "admin@demo.test", "password": PASSWORD})["token"]
        programme = api(base, "GET", "/programmes", token)["items"][0]["id"]
        project = api(base, "GET", f"/projects/{api(base, 'GET', f'/programmes/{programme}', token)['projects'][0]['id']}", token)
        project_page = base + f"/projects/{project['id']}"
        driver.get(project_page)
        if not project["jobNetwork"]:
            # The project lets its jobs use the network: the platform's workers offer it, the cluster (sandbox off) not.
            allow = driver.find_element(By.XPATH, "//button[normalize-space()='Allow network for jobs']")
            submit_and_read(driver, allow, "may use the network")
        sign_in(driver, base, "ta@demo.test")
        driver.get(project_page)
        check(bool(driver.find_elements(By.CSS_SELECTOR, "input[name=network]")), "a member's job form offers the network on the platform's workers")
        check(not driver.find_elements(By.ID, "job-compute"), "a member is not offered the choice of where jobs run")

        sign_in(driver, base, "admin@demo.test")
        def choose(label, what):
            """Chooses on the project's page where its jobs run, and checks the page shows it chosen."""
            driver.get(project_page)
            chooser = driver.find_element(By.ID, "job-compute").find_element(By.XPATH, "./ancestor::form")
            Select(chooser.find_element(By.NAME, "slurmCluster")).select_by_visible_text(label)
            submit_and_read(driver, chooser.find_element(By.CSS_SELECTOR, "button[type=submit]"), project["title"])
            check(Select(driver.find_element(By.ID, "job-compute")).first_selected_option.text == label, what)

        choose("the Slurm cluster campus-hpc", "the project's page shows the cluster chosen")

        sign_in(driver, base, "ta@demo.test")
        driver.get(project_page)
        check("Jobs run on the Slurm cluster campus-hpc" in driver.find_element(By.TAG_NAME, "main").text, "a member's job form says jobs run on the cluster")
        cores = driver.find_elements(By.ID, "job-cores")
        check(bool(cores) and cores[0].get_attribute("max") == "4", "the job form offers up to the cluster's 4 cores")
        gpus = driver.find_elements(By.ID, "job-gpus")
        check(bool(gpus) and gpus[0].get_attribute("max") == "2", "and up to its 2 GPUs")
        check(driver.find_element(By.ID, "job-wall").get_attribute("max") == "36000", "and a time limit up to its 600 minutes")
        check(not driver.find_elements(By.CSS_SELECTOR, "input[name=network]"), "no network is offered on a cluster without the sandbox")

        sign_in(driver, base, "admin@demo.test")
        # Not removed while the project sends its jobs there; removed once they go back to the platform's workers.
        driver.get(base + "/admin/slurm")
        details = driver.find_element(By.CSS_SELECTOR, "details")
        details.find_element(By.TAG_NAME, "summary").click()
        remove = details.find_element(By.CSS_SELECTOR, "form[action$='/remove'] button[type=submit]")
        page = submit_and_read(driver, remove, "project(s) send their jobs")
        check("project(s) send their jobs to campus-hpc" in page, "a cluster a project uses is not removed")
        choose("the platform's own workers", "the project's jobs are back on the platform's workers")
        driver.get(base + "/admin/slurm")
        details = driver.find_element(By.CSS_SELECTOR, "details")
        details.find_element(By.TAG_NAME, "summary").click()
        page = submit_and_read(driver, details.find_element(By.CSS_SELECTOR, "form[action$='/remove'] button[type=submit]"), "No cluster yet.")
        check("No cluster yet." in page, "the cluster is removed")
    finally:
        if driver is not None:
            driver.quit()
        stop(server)
    finish("end-to-end (Slurm pages)")


if __name__ == "__main__":
    main()
