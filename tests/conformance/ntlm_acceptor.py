"""A third-party NTLM acceptor for qtool's interop tests: pyspnego's NTLM server behind a small
HTTP/1.1 server over TLS, answering the way IIS-style Windows authentication does (401 with the
offered schemes, the handshake on one keep-alive connection, then a session cookie).

    NTLM_USER_FILE=users.txt python3 ntlm_acceptor.py CERT.pem KEY.pem [--cbt] [--mode MODE]

Prints the port it listens on (127.0.0.1), then serves until killed. `--cbt` requires the TLS
channel binding. Modes, for the bad-input tests:
  ntlm       offer Negotiate and NTLM (default)
  negotiate  offer Negotiate only, and accept NTLM inside it
  kerberos   offer Negotiate only, and refuse NTLM inside it (a Kerberos-only site)
  basic      offer Basic only
  loop       answer every AUTHENTICATE with a new challenge
  drop       close the connection right after sending the challenge
"""

import argparse
import base64
import hashlib
import http.server
import json
import ssl
import uuid

import spnego
from cryptography import x509
from spnego.channel_bindings import GssChannelBindings

SESSION_COOKIE = "X-Qlik-Session"


def tls_server_end_point(cert_der):
    """RFC 5929 section 4.1: the certificate hashed with its signature's hash (SHA-256 for MD5,
    SHA-1 and signatures without a hash)."""
    algorithm = x509.load_der_x509_certificate(cert_der).signature_hash_algorithm
    name = algorithm.name if algorithm is not None else "sha256"
    if name in ("md5", "sha1"):
        name = "sha256"
    return b"tls-server-end-point:" + hashlib.new(name, cert_der).digest()


def serve(args):
    with open(args.cert, "rb") as f:
        cert_der = ssl.PEM_cert_to_DER_cert(f.read().decode())
    bindings = (
        GssChannelBindings(application_data=tls_server_end_point(cert_der))
        if args.cbt
        else None
    )
    sessions = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        # Keep-alive: NTLM authenticates the connection, and this handler lives as long as it.
        protocol_version = "HTTP/1.1"
        context = None

        def log_message(self, fmt, *values):
            pass

        def reply(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def offer(self, why):
            schemes = {
                "ntlm": ["Negotiate", "NTLM"],
                "negotiate": ["Negotiate"],
                "kerberos": ["Negotiate"],
                "basic": ['Basic realm="qtool test"'],
                "loop": ["Negotiate", "NTLM"],
                "drop": ["Negotiate", "NTLM"],
            }[args.mode]
            self.reply(
                401,
                why.encode() + b"\n",
                [("WWW-Authenticate", s) for s in schemes],
            )

        def challenge(self, scheme, negotiate):
            self.context = spnego.server(
                protocol="ntlm",
                options=spnego.NegotiateOptions.use_ntlm,
                channel_bindings=bindings,
            )
            token = self.context.step(negotiate)
            self.reply(
                401,
                headers=[("WWW-Authenticate", f"{scheme} {base64.b64encode(token).decode()}")],
            )
            if args.mode == "drop":
                self.close_connection = True

        def do_GET(self):
            cookies = dict(
                c.strip().split("=", 1)
                for c in self.headers.get("Cookie", "").split(";")
                if "=" in c
            )
            user = sessions.get(cookies.get(SESSION_COOKIE))
            if user:
                body = json.dumps({"schemaPath": "About", "user": user, "via": "cookie"})
                return self.reply(200, body.encode(), [("Content-Type", "application/json")])
            authorization = self.headers.get("Authorization")
            if not authorization:
                return self.offer("Windows authentication required")
            scheme, _, token = authorization.partition(" ")
            try:
                message = base64.b64decode(token)
            except ValueError:
                return self.offer("the token is not base64")
            if not message.startswith(b"NTLMSSP\0") or len(message) < 12:
                return self.offer("not an NTLM message")
            kind = message[8]
            if kind == 1:
                if args.mode == "kerberos":
                    return self.reply(401, b"Kerberos only\n", [("WWW-Authenticate", "Negotiate")])
                return self.challenge(scheme, message)
            if kind == 3:
                if args.mode == "loop":
                    return self.challenge_again(scheme)
                if self.context is None:
                    return self.offer("no challenge on this connection")
                try:
                    self.context.step(message)
                except Exception as e:  # pyspnego raises its own error types
                    self.context = None
                    return self.offer(f"logon failed: {e}")
                user = self.context.client_principal
                self.context = None
                session = uuid.uuid4().hex
                sessions[session] = user
                body = json.dumps({"schemaPath": "About", "user": user, "via": "ntlm"})
                return self.reply(
                    200,
                    body.encode(),
                    [
                        ("Content-Type", "application/json"),
                        ("Set-Cookie", f"{SESSION_COOKIE}={session}; Path=/; HttpOnly; Secure"),
                    ],
                )
            return self.offer("unexpected NTLM message")

        def challenge_again(self, scheme):
            # A server that never accepts: a fresh CHALLENGE for every AUTHENTICATE.
            negotiate = spnego.client("x", "y", protocol="ntlm").step()
            return self.challenge(scheme, negotiate)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(args.cert, args.key)
    server.socket = tls.wrap_socket(server.socket, server_side=True)
    print(server.server_address[1], flush=True)
    server.serve_forever()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("cert")
    parser.add_argument("key")
    parser.add_argument("--cbt", action="store_true")
    parser.add_argument(
        "--mode",
        default="ntlm",
        choices=["ntlm", "negotiate", "kerberos", "basic", "loop", "drop"],
    )
    serve(parser.parse_args())


if __name__ == "__main__":
    main()
