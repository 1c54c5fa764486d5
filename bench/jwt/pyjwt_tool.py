"""PyJWT side of the interop tests (tests/integration/jwt.rs).

    pyjwt_tool.py sign KEY.pem AUDIENCE ALG      -> prints a token with Qlik claims
    pyjwt_tool.py verify TOKEN CERT.pem AUDIENCE -> prints the verified claims as JSON

Certificates are loaded with `cryptography`, so the certificate qtool writes is what is checked.
"""
import json
import sys
import time

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import serialization


def public_key(path):
    data = open(path, "rb").read()
    if b"BEGIN CERTIFICATE" in data:
        return x509.load_pem_x509_certificate(data).public_key()
    return serialization.load_pem_public_key(data)


def main(argv):
    if argv[1] == "sign":
        key = open(argv[2], "rb").read()
        now = int(time.time())
        claims = {
            "userid": "pyuser",
            "userdirectory": "PYDIR",
            "groups": ["Python"],
            "iat": now,
            "exp": now + 600,
            "aud": argv[3],
        }
        print(jwt.encode(claims, key, algorithm=argv[4]))
    elif argv[1] == "verify":
        claims = jwt.decode(
            argv[2],
            public_key(argv[3]),
            algorithms=["RS256", "RS384", "RS512"],
            audience=argv[4],
        )
        print(json.dumps(claims))
    else:
        raise SystemExit("usage: pyjwt_tool.py sign|verify ...")


if __name__ == "__main__":
    main(sys.argv)
