#!/usr/bin/env python3
"""An OpenID Connect provider stand-in for the single sign-on tests (issue 21), written here (stdlib HTTP server,
`cryptography` for the signatures): discovery, /authorize (PKCE with S256 required), /token (client_secret_basic,
single-use codes, the code verifier checked against the challenge), /jwks (Cache-Control max-age, fetches counted),
/end_session. A test drives it through /control (POST JSON, settings kept until {"reset": true}):

  {"claims": {...}}            claims of the next sign-ins (sub, email, email_verified, name, ...)
  {"forge": {...}}             aud / iss / nonce replaced; "kid": null (none) or a name; "stray": true (signed by a key
                               it does not publish); "exp" / "iat": seconds added; "alg": "ES256" (an EC key it publishes)
  {"rotate": true}             a new RSA key becomes the signing key (the old one stays published)
  {"withdraw": "k1"}           a key no longer published
  {"token_error": "..."}       the token endpoint answers 400 with that error
  {"deny": true}               /authorize sends the browser back with error=access_denied
  {"discovery_issuer": "..."}  discovery names another issuer
  {"discovery": {...}}         fields of the discovery document replaced (another token endpoint, algorithms, ...)

and reads GET /control/log: {"jwks_fetches": n, "pkce": [...], "end_session": [...], "kids": [...]}.
Listens on 127.0.0.1 on a free port and prints "PORT n" once ready; its issuer is http://127.0.0.1:n.
Usage: oidc_standin.py CLIENT_ID CLIENT_SECRET
"""
import base64
import hashlib
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from jose_support import Keys, b64url, sign

CLIENT_ID, CLIENT_SECRET = sys.argv[1], sys.argv[2]
lock = threading.Lock()


keys = Keys()
settings = {}
codes = {}
log = {"jwks_fetches": 0, "pkce": [], "end_session": [], "kids": []}


class Provider(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    @property
    def issuer(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def answer(self, status, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/.well-known/openid-configuration":
            with lock:
                issuer = settings.get("discovery_issuer", self.issuer)
                overrides = dict(settings.get("discovery", {}))
            document = {
                "issuer": issuer, "authorization_endpoint": self.issuer + "/authorize", "token_endpoint": self.issuer + "/token",
                "jwks_uri": self.issuer + "/jwks", "end_session_endpoint": self.issuer + "/end_session",
                "id_token_signing_alg_values_supported": ["RS256", "ES256"], "code_challenge_methods_supported": ["S256"],
                "response_types_supported": ["code"], "subject_types_supported": ["public"]}
            document.update(overrides)
            return self.answer(200, document)
        if url.path == "/jwks":
            with lock:
                log["jwks_fetches"] += 1
                return self.answer(200, keys.jwks(), {"Cache-Control": "public, max-age=300"})
        if url.path == "/authorize":
            if query.get("client_id") != CLIENT_ID or query.get("response_type") != "code" or "redirect_uri" not in query:
                return self.answer(400, {"error": "invalid_request"})
            target = query["redirect_uri"]
            with lock:
                deny = settings.get("deny")
            if deny:
                back = {"error": "access_denied", "error_description": "the person said no", "state": query.get("state", "")}
            elif query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
                back = {"error": "invalid_request", "error_description": "PKCE with S256 is required", "state": query.get("state", "")}
            else:
                code = secrets.token_urlsafe(24)
                with lock:
                    codes[code] = {"nonce": query.get("nonce"), "challenge": query["code_challenge"], "redirect_uri": target,
                                   "scope": query.get("scope", "")}
                back = {"code": code, "state": query.get("state", "")}
            self.send_response(302)
            self.send_header("Location", target + ("&" if "?" in target else "?") + urllib.parse.urlencode(back))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path == "/end_session":
            with lock:
                log["end_session"].append(query)
            return self.answer(200, {"signed_out": True})
        if url.path == "/control/log":
            with lock:
                return self.answer(200, log)
        self.answer(404, {"error": "not_found"})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if url.path == "/control":
            change = json.loads(body or b"{}")
            with lock:
                if change.pop("reset", False):
                    settings.clear()
                if change.pop("rotate", False):
                    keys.rotate()
                withdrawn = change.pop("withdraw", None)
                if withdrawn:
                    keys.published.pop(withdrawn, None)
                settings.update(change)
            return self.answer(200, {"current": keys.current})
        if url.path == "/token":
            return self.token(dict(urllib.parse.parse_qsl(body.decode())))
        self.answer(404, {"error": "not_found"})

    def token(self, form):
        authorization = self.headers.get("Authorization", "")
        try:
            user, _, password = base64.b64decode(authorization.removeprefix("Basic ")).decode().partition(":")
            client, secret = urllib.parse.unquote_plus(user), urllib.parse.unquote_plus(password)
        except Exception:
            client = secret = None
        if not authorization.startswith("Basic ") or client != CLIENT_ID or secret != CLIENT_SECRET:
            return self.answer(401, {"error": "invalid_client"})
        with lock:
            error = settings.get("token_error")
            grant = codes.pop(form.get("code", ""), None)  # single use
        if error:
            return self.answer(400, {"error": error})
        if form.get("grant_type") != "authorization_code" or grant is None or form.get("redirect_uri") != grant["redirect_uri"]:
            return self.answer(400, {"error": "invalid_grant"})
        verifier = form.get("code_verifier", "")
        pkce_ok = b64url(hashlib.sha256(verifier.encode()).digest()) == grant["challenge"]
        with lock:
            log["pkce"].append(pkce_ok)
        if not pkce_ok:
            return self.answer(400, {"error": "invalid_grant", "error_description": "the code verifier does not match"})
        with lock:
            claims = dict(settings.get("claims", {}))
            forge = dict(settings.get("forge", {}))
            current = keys.current
        now = int(time.time())
        payload = {"iss": self.issuer, "sub": "person-1", "aud": CLIENT_ID, "exp": now + 300 + int(forge.pop("exp", 0)),
                   "iat": now + int(forge.pop("iat", 0)), "nonce": grant["nonce"], "email": "person@uni.test",
                   "email_verified": True, "name": "Pat Person"}
        payload.update(claims)
        alg = forge.pop("alg", "RS256")
        kid = forge.pop("kid", "ec1" if alg == "ES256" else current)
        key = keys.stray if forge.pop("stray", False) else (keys.ec if alg == "ES256" else keys.published.get(current, (keys.stray,))[0])
        payload.update(forge)  # aud, iss, nonce replaced as asked
        header = {"alg": alg, "typ": "JWT"}
        if kid is not None:
            header["kid"] = kid
        with lock:
            log["kids"].append(kid)
        self.answer(200, {"access_token": secrets.token_urlsafe(16), "token_type": "Bearer", "expires_in": 300,
                          "id_token": sign(header, payload, key, alg)})


server = ThreadingHTTPServer(("127.0.0.1", 0), Provider)
print(f"PORT {server.server_address[1]}", flush=True)
server.serve_forever()
