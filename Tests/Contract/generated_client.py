#!/usr/bin/env python3
"""A client generated from the served OpenAPI document drives one whole flow (issue 19): an instructor creates an
assignment, a student hands in, the sandbox grades it, the student reads the grade — every call through the
generated code (openapi-python-client), none written by hand. If the document and the API disagree, the generated
client cannot make or read these calls.

Usage: generated_client.py PATH/TO/campuscloud. Needs `pip install openapi-python-client` (scripts/install-deps)."""
import importlib, io, json, os, shutil, subprocess, sys, tempfile, time, urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Integration"))
from demo_server import free_port, stop, wait_healthy  # noqa: E402

binary = sys.argv[1]
work = tempfile.mkdtemp(prefix="cc-client-")
os.chmod(work, 0o711)  # sandboxed jobs (another uid) reach their folders below it; it stays unlistable
port = free_port()
env = dict(os.environ, DATABASE_URL=f"sqlite://{work}/demo.sqlite", CAMPUSCLOUD_DATA_DIR=f"{work}/data", LOG_LEVEL="warning",
           CAMPUSCLOUD_GRADING_WORKERS="1")
log = open(os.path.join(work, "server.log"), "w")
server = subprocess.Popen([binary, "demo", "--port", str(port)], env=env, stdout=log, stderr=subprocess.STDOUT)
base = f"http://127.0.0.1:{port}"
failures = []


def check(label, condition):
    print(("ok   " if condition else "FAIL ") + label)
    if not condition: failures.append(label)


try:
    wait_healthy(base, server)
    document = os.path.join(work, "openapi.json")
    with urllib.request.urlopen(base + "/api/v1/openapi.json") as response, open(document, "wb") as f:
        f.write(response.read())
    generated = subprocess.run(["openapi-python-client", "generate", "--path", document, "--output-path", os.path.join(work, "campuscloud_client"),
                                "--meta", "none"], capture_output=True, text=True)
    check("a client is generated from the served document", generated.returncode == 0)
    if generated.returncode != 0:
        print(generated.stdout, generated.stderr); raise SystemExit(1)
    sys.path.insert(0, work)
    client_module = importlib.import_module("campuscloud_client")
    api = lambda name: importlib.import_module(f"campuscloud_client.api.{name}")
    models = importlib.import_module("campuscloud_client.models")
    types = importlib.import_module("campuscloud_client.types")

    anonymous = client_module.Client(base_url=base)
    def sign_in(email):
        answer = api("auth.issue_token").sync(client=anonymous, body=models.IssueTokenBody(email=email, password="campuscloud-demo"))
        return client_module.AuthenticatedClient(base_url=base, token=answer.token)
    instructor, student = sign_in("instructor@demo.test"), sign_in("student7@demo.test")

    courses = api("courses.list_my_courses").sync(client=student)
    cs101 = next(course for course in courses.items if course.code == "CS101")
    check("the student's courses come back as typed models", cs101.your_role == "student")

    tests = json.dumps({"tests": [{"name": "greets", "setup": "", "run": "python3 hello.py", "input": "", "output": "hello from the client",
                                   "comparison": "included", "timeout": 5, "points": 4}]})
    created = api("grading.create_assignment").sync(client=instructor, course_id=cs101.id, body=models.CreateAssignmentBody(
        title="Generated-client lab", kind=models.CreateAssignmentBodyKind.CLASSROOM, classroom_tests=tests, required_files="hello.py"))
    check("the instructor creates an assignment", getattr(created, "title", None) == "Generated-client lab")

    handed = api("grading.submit").sync(client=student, assignment_id=created.id, body=models.SubmitBody(
        files=[types.File(payload=io.BytesIO(b'print("hello from the client")\n'), file_name="hello.py", mime_type="text/x-python")]))
    check("the student hands in a file", getattr(handed, "attempt", None) == 1)

    deadline = time.time() + 120
    submission = handed
    while time.time() < deadline:
        submission = api("grading.get_submission").sync(client=student, submission_id=handed.id)
        if str(submission.status) in ("graded", "failed") or getattr(submission.status, "value", "") in ("graded", "failed"):
            break
        time.sleep(0.5)
    status = getattr(submission.status, "value", str(submission.status))
    check(f"the sandbox grades it (status {status})", status == "graded")
    check("with the full score", submission.autograder_score == 4 and submission.max_score == 4)

    grades = api("grading.get_my_grades").sync(client=student, course_id=cs101.id)
    mine = next((grade for grade in grades if str(grade.assignment_id).lower() == str(created.id).lower()), None)
    check("the student reads the grade in their course grades", mine is not None and mine.attempts == 1)
finally:
    stop(server)
    log.close()
    if failures:
        print("".join(line for line in open(os.path.join(work, "server.log"), errors="replace") if " error " in line)[-3000:])
    shutil.rmtree(work, ignore_errors=True)

if failures:
    print("generated client: FAILED: " + "; ".join(failures)); sys.exit(1)
print("generated client: the whole flow passed")
