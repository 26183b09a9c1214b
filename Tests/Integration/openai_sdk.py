#!/usr/bin/env python3
"""The AI gateway with the official `openai` Python SDK as the client (issue 7): non-streaming, streaming, the
models list, embeddings, and an over-cap refusal, against `campuscloud demo` (whose provider is the built-in fake
upstream). Usage: openai_sdk.py PATH/TO/campuscloud. Needs `pip install openai` (scripts/test does it in a venv)."""
import json, os, subprocess, sys, tempfile, time, urllib.error, urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from demo_server import free_port, stop, wait_healthy  # noqa: E402

import openai
from openai import OpenAI

binary = sys.argv[1]
work = tempfile.mkdtemp(prefix="cc-openai-")
port = free_port()
env = dict(os.environ, DATABASE_URL=f"sqlite://{work}/demo.sqlite", CAMPUSCLOUD_DATA_DIR=f"{work}/data", LOG_LEVEL="warning",
           CAMPUSCLOUD_GRADING_WORKERS="0")
server = subprocess.Popen([binary, "demo", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
base = f"http://127.0.0.1:{port}"
failures = []

def check(label, condition):
    print(("ok   " if condition else "FAIL ") + label)
    if not condition: failures.append(label)

def api(method, path, body=None, token=None):
    request = urllib.request.Request(base + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                     headers={"content-type": "application/json", **({"authorization": f"Bearer {token}"} if token else {})})
    with urllib.request.urlopen(request) as response:
        return json.loads(response.read() or b"null")

try:
    wait_healthy(base, server)
    token = api("POST", "/api/v1/auth/token", {"email": "student3@demo.test", "password": "campuscloud-demo"})["token"]
    course = next(c for c in api("GET", "/api/v1/me", token=token)["memberships"]["courses"] if c["name"].startswith("CS101"))
    key = api("POST", f"/api/v1/courses/{course['id']}/ai/keys", {"name": "sdk"}, token=token)["token"]
    client = OpenAI(base_url=base + "/v1", api_key=key, max_retries=0)

    reply = client.chat.completions.create(model="campuscloud-tutor", messages=[{"role": "user", "content": "what is recursion"}], max_tokens=20)
    check("a chat completion comes back", reply.choices[0].message.content == "Echo: what is recursion")
    check("with its usage", reply.usage is not None and reply.usage.completion_tokens == 4)

    pieces = [chunk.choices[0].delta.content or "" for chunk in
              client.chat.completions.create(model="campuscloud-tutor", stream=True, messages=[{"role": "user", "content": "loops and lists"}])
              if chunk.choices]
    check("a stream comes back in pieces", "".join(pieces) == "Echo: loops and lists" and len(pieces) > 3)

    check("the models list names what the key may use", sorted(m.id for m in client.models.list()) == ["campuscloud-embed", "campuscloud-tutor"])

    vectors = client.embeddings.create(model="campuscloud-embed", input=["a", "b"])
    check("embeddings come back", len(vectors.data) == 2 and len(vectors.data[0].embedding) == 8)

    # The instructor sets student 3's allowance to what they have used and a little more: a request that may cost
    # more than what is left is refused, saying who can raise it.
    me = api("GET", "/api/v1/me", token=token)
    instructor = api("POST", "/api/v1/auth/token", {"email": "instructor@demo.test", "password": "campuscloud-demo"})["token"]
    # (The gateway's credit lease on the allowance closes within about 3 s; until then the allowance cannot go below it.)
    for attempt in range(40):
        try:
            api("PUT", f"/api/v1/courses/{course['id']}/credits/allowances/{me['id']}", {"amount": "4.5001"}, token=instructor)
            break
        except urllib.error.HTTPError as error:
            if error.code != 409 or attempt == 39: raise
            time.sleep(0.25)
    try:
        client.chat.completions.create(model="campuscloud-tutor", messages=[{"role": "user", "content": "x" * 2000}], max_tokens=500)
        check("an over-cap request is refused", False)
    except openai.RateLimitError as error:
        check("an over-cap request is refused with 429 insufficient_quota",
              error.status_code == 429 and error.code == "insufficient_quota" and "Ines Instructor" in error.message)
    except openai.APIStatusError as error:
        check(f"an over-cap request is refused (got {error.status_code}: {error.message})", False)

    try:
        OpenAI(base_url=base + "/v1", api_key="cc_nope_nope", max_retries=0).models.list()
        check("a wrong key is refused", False)
    except openai.AuthenticationError:
        check("a wrong key is refused with 401", True)
finally:
    stop(server, timeout=30)

print("openai SDK: " + ("all checks passed" if not failures else f"{len(failures)} failed"))
sys.exit(1 if failures else 0)
