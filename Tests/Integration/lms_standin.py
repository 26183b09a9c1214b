#!/usr/bin/env python3
"""An LMS stand-in for the LTI browser test (issue 21), written here (stdlib HTTP server, jose_support for the
signatures). Its issuer is http://127.0.0.1:PORT, a different site from the tool at http://localhost:TOOLPORT, so the
tool runs in a cross-site frame as it does inside Canvas or Moodle:

  GET  /course?person=teacher|student&message=link|deep&storage=1   the LMS's course page: the tool in an iframe (the
                                 OIDC login initiation), and with storage=1 the LMS's storage frame named
                                 post_message_forwarding (LTI Client Side postMessages), offered as lti_storage_target;
                                 storage=wrong: a frame answering lti.get_data with another value; storage=foreign: the
                                 frame served from http://localhost:PORT, an origin that is not the LMS's
  GET  /storage                  that frame: lti.put_data / lti.get_data for the tool's origin only, kept per origin;
                                 each put is reported to POST /control/stored
  GET  /authorize                the OIDC authorization step: checks client_id, redirect_uri, response_mode, the login
                                 hint; signs an id_token (RS256, its key) for the person and the message; form_post
  GET  /jwks                     its key set
  POST /deep-link-return         Deep Linking's return: verifies the tool's JWT against the tool's key set, keeps it
  GET  /control/log              {"deep_links": [payloads verified], "refused": n, "logins": n, "stored": {key: value}}

Prints "PORT n" once listening. Usage: lms_standin.py CLIENT_ID TOOL_BASE_URL
"""
import html
import json
import secrets
import sys
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jose_support import Keys, sign, verify_rs256

CLIENT_ID, TOOL = sys.argv[1], sys.argv[2].rstrip("/")
DEPLOYMENT = "1:campus"
MEMBERSHIP = "http://purl.imsglobal.org/vocab/lis/v2/membership"
CLAIM = "https://purl.imsglobal.org/spec/lti/claim/"
PEOPLE = {
    "teacher": {"sub": "lms-teacher-1", "email": "tess.teacher@uni.test", "name": "Tess Teacher", "roles": [MEMBERSHIP + "#Instructor"]},
    "student": {"sub": "lms-student-1", "email": "sam.student@uni.test", "name": "Sam Student", "roles": [MEMBERSHIP + "#Learner"]},
}
keys = Keys()
log = {"deep_links": [], "refused": 0, "logins": 0, "stored": {}}
lock = threading.Lock()

STORAGE_PAGE = """<!doctype html><title>storage</title><script>
var kept = {};
window.addEventListener("message", function (event) {
  var data = event.data || {};
  if (event.origin !== %s || typeof data.subject !== "string") return;
  var answer = { subject: data.subject + ".response", message_id: data.message_id, key: data.key };
  if (data.subject === "lti.put_data") {
    kept[event.origin + " " + data.key] = data.value; answer.value = data.value;
    fetch("/control/stored", { method: "POST", body: new URLSearchParams({ key: data.key, value: data.value }) });
  }
  else if (data.subject === "lti.get_data") { answer.value = %s ? "not-the-state" : kept[event.origin + " " + data.key]; }
  else return;
  event.source.postMessage(answer, event.origin);
});
</script>"""


class LMS(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    @property
    def issuer(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, status, body, content_type="text/html; charset=utf-8"):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/course":
            self.course(query)
        elif url.path == "/storage":
            tool_origin = json.dumps(urllib.parse.urlsplit(TOOL)._replace(path="").geturl())
            self.answer(200, STORAGE_PAGE % (tool_origin, "true" if query.get("mode") == "wrong" else "false"))
        elif url.path == "/authorize":
            self.authorize(query)
        elif url.path == "/jwks":
            with lock:
                body = json.dumps(keys.jwks())
            self.answer(200, body, "application/json")
        elif url.path == "/control/log":
            with lock:
                body = json.dumps(log)
            self.answer(200, body, "application/json")
        else:
            self.answer(404, "not found")

    def course(self, query):
        person, message = query.get("person", "student"), query.get("message", "link")
        login = {"iss": self.issuer, "login_hint": person, "target_link_uri": TOOL + "/lti/launch", "lti_message_hint": message,
                 "client_id": CLIENT_ID, "lti_deployment_id": DEPLOYMENT}
        storage = ""
        mode = query.get("storage")
        if mode in ("1", "wrong", "foreign"):
            login["lti_storage_target"] = "post_message_forwarding"
            source = f"http://localhost:{self.server.server_address[1]}/storage" if mode == "foreign" else f"/storage?mode={mode}"
            storage = f'<iframe name="post_message_forwarding" src="{source}" title="storage" style="display:none"></iframe>'
        source = html.escape(TOOL + "/lti/login?" + urllib.parse.urlencode(login))
        self.answer(200, f"""<!doctype html><html><head><title>LMS course</title></head><body>
<h1>LMS course page</h1>{storage}
<iframe id="tool" name="tool" src="{source}" title="CampusCloud" width="1100" height="800" allow="clipboard-write"></iframe>
</body></html>""")

    def authorize(self, query):
        person = PEOPLE.get(query.get("login_hint", ""))
        good = (person and query.get("client_id") == CLIENT_ID and query.get("redirect_uri") == TOOL + "/lti/launch"
                and query.get("response_mode") == "form_post" and query.get("response_type") == "id_token" and query.get("nonce")
                and query.get("state") and "openid" in query.get("scope", "").split())
        if not good:
            with lock:
                log["refused"] += 1
            self.answer(400, "bad authorization request")
            return
        now = int(time.time())
        claims = {"iss": self.issuer, "aud": CLIENT_ID, "azp": CLIENT_ID, "sub": person["sub"], "exp": now + 300, "iat": now,
                  "nonce": query["nonce"], "email": person["email"], "name": person["name"],
                  CLAIM + "version": "1.3.0", CLAIM + "deployment_id": DEPLOYMENT, CLAIM + "roles": person["roles"],
                  CLAIM + "target_link_uri": TOOL + "/lti/launch",
                  CLAIM + "context": {"id": "lms-course-1", "label": "LMS101", "title": "Cloud computing in the LMS"},
                  CLAIM + "launch_presentation": {"document_target": "iframe", "return_url": self.issuer + "/course"}}
        if query.get("lti_message_hint") == "deep":
            claims[CLAIM + "message_type"] = "LtiDeepLinkingRequest"
            claims["https://purl.imsglobal.org/spec/lti-dl/claim/deep_linking_settings"] = {
                "deep_link_return_url": self.issuer + "/deep-link-return", "accept_types": ["ltiResourceLink"],
                "accept_presentation_document_targets": ["iframe", "window"], "accept_multiple": True, "data": "lms-opaque"}
        else:
            claims[CLAIM + "message_type"] = "LtiResourceLinkRequest"
            claims[CLAIM + "resource_link"] = {"id": "rl-" + secrets.token_hex(4), "title": "CampusCloud"}
        with lock:
            log["logins"] += 1
            kid = keys.current
            key = keys.published[kid][0]
        token = sign({"alg": "RS256", "typ": "JWT", "kid": kid}, claims, key, "RS256")
        self.answer(200, f"""<!doctype html><html><body><form id="post" method="post" action="{html.escape(query['redirect_uri'])}">
<input type="hidden" name="id_token" value="{html.escape(token)}"><input type="hidden" name="state" value="{html.escape(query['state'])}">
</form><script>document.getElementById("post").submit();</script></body></html>""")

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
        if urllib.parse.urlsplit(self.path).path == "/control/stored":
            # What the storage frame holds for each key (the tool clears its entry after use).
            with lock:
                log["stored"][form.get("key", "")] = form.get("value", "")
            self.answer(200, "kept")
            return
        if urllib.parse.urlsplit(self.path).path != "/deep-link-return":
            self.answer(404, "not found")
            return
        with urllib.request.urlopen(TOOL + "/.well-known/jwks.json", timeout=10) as response:
            tool_keys = json.loads(response.read())
        payload = verify_rs256(form.get("JWT", ""), tool_keys)
        if payload is None or payload.get("aud") not in (self.issuer, [self.issuer]) or payload.get("iss") != CLIENT_ID:
            with lock:
                log["refused"] += 1
            self.answer(400, "the tool's deep linking response does not verify")
            return
        items = payload.get("https://purl.imsglobal.org/spec/lti-dl/claim/content_items", [])
        with lock:
            log["deep_links"].append(payload)
        titles = "".join(f"<li>{html.escape(item.get('title', ''))}</li>" for item in items)
        self.answer(200, f"<!doctype html><html><body><h1>Linked {len(items)} item(s)</h1><ul id='linked'>{titles}</ul></body></html>")


def main():
    server = ThreadingHTTPServer(("127.0.0.1", 0), LMS)
    print(f"PORT {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
