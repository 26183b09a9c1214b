#!/usr/bin/env python3
"""The JSON API against its own document (issue 19): schemathesis with every check on, as an administrator, an
instructor and a student, against `campuscloud demo` on a fresh SQLite database, with real ids of the demo's
programme, course, assignment, submission, project, job and people filled into the path parameters (otherwise
nearly every generated request would meet a 404 and test little). Any failure fails the run.

Usage: schemathesis_run.py PATH/TO/campuscloud [--max-examples N] [--role admin|instructor|student ...] [--explore] [--paths REGEX]
Needs `pip install schemathesis` (scripts/test does it in a venv)."""
import argparse, json, os, shutil, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Integration"))
from demo_server import free_port, stop, wait_healthy  # noqa: E402

parser = argparse.ArgumentParser()
parser.add_argument("binary")
parser.add_argument("--max-examples", type=int, default=int(os.environ.get("CONTRACT_EXAMPLES", "25")))
parser.add_argument("--role", action="append", choices=["admin", "instructor", "student"])
parser.add_argument("--schemathesis", default=shutil.which("schemathesis") or "schemathesis")
# CI runs the same cases every time (a failure reproduces); --explore draws new ones, to look for more.
parser.add_argument("--explore", action="store_true")
# Only the operations whose path matches (a regular expression), e.g. to give one area many more cases.
parser.add_argument("--paths")
options = parser.parse_args()
roles = options.role or ["admin", "instructor", "student"]

emails = {"admin": "admin@demo.test", "instructor": "instructor@demo.test", "student": "student20@demo.test"}
base = None  # the running demo's address


def api(method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")


def demo_ids(admin, student):
    """Ids that exist in the demo, by the name of the path parameter that takes them."""
    programme = api("GET", "/api/v1/programmes", token=admin)["items"][0]["id"]
    course = next(c for c in api("GET", "/api/v1/courses", token=student)["items"] if c["code"] == "CS101")["id"]
    assignment = api("GET", f"/api/v1/courses/{course}/assignments", token=admin)[0]["id"]
    project = api("GET", f"/api/v1/programmes/{programme}", token=admin)["projects"][0]["id"]
    me = api("GET", "/api/v1/me", token=student)
    submissions = api("GET", f"/api/v1/assignments/{assignment}/submissions", token=admin)["items"]
    jobs = api("GET", f"/api/v1/projects/{project}/jobs", token=admin)["items"]
    accounts = api("GET", "/api/v1/me/credits", token=student)
    if not api("GET", "/api/v1/me/keys", token=student):
        api("POST", "/api/v1/me/keys", {"name": "contract"}, token=student)
    notices = api("GET", "/api/v1/me/notices", token=student)["items"]
    requests = api("GET", f"/api/v1/projects/{project}/allocation-requests", token=admin)
    ids = {"programmeID": programme, "courseID": course, "assignmentID": assignment, "projectID": project, "userID": me["id"],
           "accountID": accounts[0]["accountID"] if accounts else None,
           "submissionID": submissions[0]["id"] if submissions else None, "jobID": jobs[0]["id"] if jobs else None,
           "noticeID": notices[0]["id"] if notices else None, "requestID": requests[0]["id"] if requests else None}
    # No outputID or keyID: only DELETE takes them, and a fixed id would also replace the one the stateful phase
    # links from a POST it just made — once the fuzzing phase has removed the fixed one, that DELETE meets a 404
    # and schemathesis reports "created resource not found" (CI, stop 27). Their DELETEs get ids from the links.
    return {name: value for name, value in ids.items() if value}


def run_as(role):
    """One role against a demo of its own (a fresh database), so what one role's run changes cannot steer another's."""
    global base
    work = tempfile.mkdtemp(prefix=f"cc-contract-{role}-")
    port = free_port()
    env = dict(os.environ, DATABASE_URL=f"sqlite://{work}/demo.sqlite", CAMPUSCLOUD_DATA_DIR=f"{work}/data", LOG_LEVEL="warning",
               CAMPUSCLOUD_GRADING_WORKERS="0")
    log = open(os.path.join(work, "server.log"), "w")
    server = subprocess.Popen([options.binary, "demo", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    passed = False
    try:
        wait_healthy(base, server)
        tokens = {name: api("POST", "/api/v1/auth/token", {"email": email, "password": "campuscloud-demo"})["token"]
                  for name, email in emails.items()}
        ids = demo_ids(tokens["admin"], tokens["student"])
        config = os.path.join(work, f"{role}.toml")
        shared = open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "schemathesis.toml")).read()
        with open(config, "w") as f:
            f.write(f'headers = {{ Authorization = "Bearer {tokens[role]}" }}\n')
            f.write(f"generation.max-examples = {options.max_examples}\n")
            f.write("[parameters]\n")
            for name, value in ids.items():
                f.write(f'"path.{name}" = "{value}"\n')
            f.write(shared)
        print(f"== schemathesis as {role} ({emails[role]}), ids: {json.dumps(ids)}", flush=True)
        command = [options.schemathesis, "--config-file", config, "run", f"{base}/api/v1/openapi.json",
                   "--workers", "1", "--no-color"]  # one: hypothesis in threads trips over Python 3.11's ast now and then
        if options.paths:
            command += ["--include-path-regex", options.paths]
        if not options.explore:
            command += ["--seed", "19", "--generation-deterministic"]
        passed = subprocess.run(command, cwd=work).returncode == 0  # its cache stays in the throwaway folder
    finally:
        stop(server)
        log.close()
        if not passed:  # what the server logged about its errors, to go with schemathesis's report
            errors = [line for line in open(os.path.join(work, "server.log"), errors="replace") if " error " in line or "Fatal" in line]
            print("".join(errors[-30:]))
        shutil.rmtree(work, ignore_errors=True)
    return passed


failed = [role for role in roles if not run_as(role)]
if failed:
    print("schemathesis found failures as: " + ", ".join(failed))
    sys.exit(1)
print("schemathesis: no failures as " + ", ".join(roles))
