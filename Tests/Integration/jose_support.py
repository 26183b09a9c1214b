"""What the identity stand-ins share (written here; `cryptography` for the arithmetic): signing keys published as a
key set and rotated, JWS compact signing (RS256, ES256), and RS256 verification against a key set."""
import base64
import json

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def number(value, length=None):
    length = length or (value.bit_length() + 7) // 8
    return b64url(value.to_bytes(length, "big"))


class Keys:
    def __init__(self):
        self.published = {}  # kid -> (private key, alg)
        self.current = None
        self.counter = 0
        self.rotate()
        self.ec = ec.generate_private_key(ec.SECP256R1())
        self.published["ec1"] = (self.ec, "ES256")
        self.stray = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def rotate(self):
        self.counter += 1
        kid = f"k{self.counter}"
        self.published[kid] = (rsa.generate_private_key(public_exponent=65537, key_size=2048), "RS256")
        self.current = kid

    def jwks(self):
        keys = []
        for kid, (key, alg) in self.published.items():
            public = key.public_key().public_numbers()
            if alg == "RS256":
                keys.append({"kty": "RSA", "kid": kid, "alg": alg, "use": "sig", "n": number(public.n), "e": number(public.e)})
            else:
                keys.append({"kty": "EC", "kid": kid, "alg": alg, "use": "sig", "crv": "P-256", "x": number(public.x, 32), "y": number(public.y, 32)})
        return {"keys": keys}


def sign(header, payload, key, alg):
    signing_input = (b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(payload).encode())).encode()
    if alg == "ES256":
        r, s = decode_dss_signature(key.sign(signing_input, ec.ECDSA(hashes.SHA256())))
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return signing_input.decode() + "." + b64url(signature)


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def verify_rs256(token, jwks):
    """The payload of `token` when its RS256 signature verifies with the key of its kid in `jwks`; else None."""
    try:
        head, body, signature = token.split(".")
        header = json.loads(unb64url(head))
        key = next(k for k in jwks["keys"] if k.get("kid") == header.get("kid") and k.get("kty") == "RSA")
        public = rsa.RSAPublicNumbers(int.from_bytes(unb64url(key["e"]), "big"), int.from_bytes(unb64url(key["n"]), "big")).public_key()
        if header.get("alg") != "RS256":
            return None
        public.verify(unb64url(signature), f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
        return json.loads(unb64url(body))
    except Exception:
        return None
