"""requests-ntlm (a third-party NTLM client) against the sandbox's default virtual proxy, the way
Python QRS scripts log in with a service account: a Windows User-Agent, NTLM through the proxy's
authentication module, then the session cookie.

    python3 ntlm_client.py SANDBOX_JSON

Prints one line per check and exits non-zero when one fails.
"""

import json
import sys

import requests
from requests_ntlm import HttpNtlmAuth

XRFKEY = "0123456789abcdef"


def main():
    with open(sys.argv[1]) as f:
        doc = json.load(f)
    ca = doc["ca_cert"]
    proxy = doc["qseow"]["proxy_url"]
    account = doc["qseow"]["windows_auth"]["users"][1]
    with open(account["password_file"]) as f:
        password = f.read().strip()

    session = requests.Session()
    session.auth = HttpNtlmAuth(account["user"], password)
    session.headers.update(
        {
            "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) requests-ntlm",
            "X-Qlik-Xrfkey": XRFKEY,
        }
    )
    # verify= on each call: REQUESTS_CA_BUNDLE, when set, would override the session's.
    apps = session.get(f"{proxy}/qrs/app?xrfkey={XRFKEY}", verify=ca)
    apps.raise_for_status()
    names = sorted(app["name"] for app in apps.json())
    print(f"ok   login as {account['user']} and list {len(names)} apps: {', '.join(names)}")
    hops = [r.status_code for r in apps.history]
    print(f"ok   hops {hops}")
    if not any(c.name == "X-Qlik-Session" for c in session.cookies):
        sys.exit("FAIL no X-Qlik-Session cookie")
    print("ok   session cookie X-Qlik-Session")

    # The cookie alone from now on: no new handshake.
    session.auth = None
    about = session.get(f"{proxy}/qrs/about?xrfkey={XRFKEY}", verify=ca, allow_redirects=False)
    if about.status_code != 200:
        sys.exit(f"FAIL the cookie alone got HTTP {about.status_code}")
    print(f"ok   cookie alone: {about.json()['buildVersion']}")

    # A wrong password is refused with both schemes offered again.
    wrong = requests.Session()
    wrong.auth = HttpNtlmAuth(account["user"], password + "x")
    wrong.headers.update(session.headers)
    refused = wrong.get(f"{proxy}/qrs/about?xrfkey={XRFKEY}", verify=ca)
    offered = refused.headers.get("WWW-Authenticate", "")
    if refused.status_code != 401 or "NTLM" not in offered or "Negotiate" not in offered:
        sys.exit(f"FAIL wrong password: HTTP {refused.status_code}, offered {offered!r}")
    print(f"ok   wrong password refused: HTTP 401, offered {offered}")


if __name__ == "__main__":
    main()
