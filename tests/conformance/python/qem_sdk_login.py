#!/usr/bin/env python3
"""Log in to a QEM the three ways the QEM Python SDK documents, with `requests`.

The credential string is built exactly as the SDK's "Getting started - Login" page says, and
sent the way the SDK's AemClient sends it (POST .../api/v1/login, `Authorization: Basic <b64>`,
form content type, no body); the session header of the answer is then used to list servers.

usage: qem_sdk_login.py URL CA_FILE MODE
  MODE: ad (env QEM_DOMAIN, QEM_USER, QEM_PASSWORD), pat (env QEM_PAT) or jwt (env QEM_JWT).
  Also logs in once with a wrong secret. Prints one JSON object:
  {"login": status, "session": bool, "servers": [names], "wrong": {"status", "body"}}
"""
import base64 as b64
import json
import os
import sys

import requests

SESSION_HEADER = "EnterpriseManager.APISessionID"


def credentials(mode, secret=None):
    """The SDK's b64_username_password for MODE; `secret` replaces the real secret."""
    if mode == "ad":
        domain, username = os.environ["QEM_DOMAIN"], os.environ["QEM_USER"]
        password = secret if secret is not None else os.environ["QEM_PASSWORD"]
        domain_username = "{0}\\{1}".format(domain, username)
        username_password_str = str.encode("{0}:{1}".format(domain_username, password))
    elif mode == "pat":
        token = secret if secret is not None else os.environ["QEM_PAT"]
        username_password_str = str.encode("{0}:{1}".format("api-token", token))
    elif mode == "jwt":
        token = secret if secret is not None else os.environ["QEM_JWT"]
        username_password_str = str.encode("{0}:{1}".format("jwt", token))
    else:
        raise SystemExit("unknown mode " + mode)
    return b64.b64encode(username_password_str).decode("ascii")


def login(session, base, b64_username_password, ca_file):
    return session.post(
        base + "/login",
        headers={
            "Authorization": "Basic " + b64_username_password,
            "Content-Type": "application/x-www-form-urlencoded",
        },
        verify=ca_file,
    )


def wrong_secret(mode):
    if mode == "jwt":
        # The real token with its signature altered.
        token = os.environ["QEM_JWT"]
        head, _, sig = token.rpartition(".")
        return head + "." + ("A" if sig[:1] != "A" else "B") + sig[1:]
    return "not-the-secret"


def main():
    url, ca_file, mode = sys.argv[1:4]
    base = url.rstrip("/") + "/attunityenterprisemanager/api/v1"
    # `verify` on each request: a session's own is overridden by REQUESTS_CA_BUNDLE.
    with requests.Session() as session:
        r = login(session, base, credentials(mode), ca_file)
        session_id = r.headers.get(SESSION_HEADER)
        servers = []
        if r.status_code == 200 and session_id:
            listed = session.get(
                base + "/servers", headers={SESSION_HEADER: session_id}, verify=ca_file
            )
            listed.raise_for_status()
            servers = [s["name"] for s in listed.json()["serverList"]]
        wrong = login(session, base, credentials(mode, wrong_secret(mode)), ca_file)
        try:
            wrong_body = wrong.json()
        except ValueError:
            wrong_body = wrong.text
    print(json.dumps({
        "login": r.status_code,
        "session": bool(session_id),
        "servers": servers,
        "wrong": {"status": wrong.status_code, "body": wrong_body},
    }))


if __name__ == "__main__":
    main()
