"""Two third-party QRS clients from PyPI against a running `qtool sandbox`.

qsAPI 2.2.0 and qrs-api-client 2.7.0 are driven, unmodified, through every operation an admin
uses: over the certificate port (client certificate + X-Qlik-User) and over the JWT virtual
proxy (a bearer token, which neither client supports natively: the sessions they create are
given the header, see `qsapi_client` and `rc_client`).

Usage: qrs_clients.py SANDBOX_JSON WORK_DIR
Prints one line per operation (`ok`, `FAIL`, or `skip` with the reason) and exits 1 when an
operation failed. Cases where a client is wrong on any server are skipped, each with the reason
(docs/sandbox-qrs.md lists them too).
"""

import json
import os
import sys
import time
import uuid
import warnings

import requests

# qsAPI cannot verify a private CA (`verify` must be a bool), and urllib3 warns on every call.
warnings.filterwarnings("ignore")

# Operations whose client is wrong on any server: (client, mode or None for both, operation, why).
SKIPPED = [
    ("qrs-api-client", None, "app_export",
     "it parses the QVF download as JSON and then calls iter_content on None; the export is "
     "driven by hand instead (POST export, GET downloadPath with the client's session)"),
    ("qsAPI", "jwt", "AppExport",
     "it prefixes only /qrs/ paths with the virtual proxy, so the download of downloadPath "
     "(/tempcontent/...) goes to the default virtual proxy, where neither the bearer nor the "
     "session cookie counts; it also writes whatever answer it gets into the file"),
    ("qsAPI", None, "AppMigrate",
     "PUT /qrs/app/{id}/migrate is not in the QRS API (38.x)"),
    ("qsAPI", None, "QPS.DeleteSession",
     "it reads self.driver.preffix, which does not exist (AttributeError)"),
    ("qsAPI", None, "QPS(vproxy=...)",
     "it puts the prefix before /qps/ while the QPS API on port 4243 expects /qps/{prefix}/; "
     "the sandbox does not serve the QPS API port (the Personal API under each virtual proxy is "
     "checked instead)"),
]


class Run:
    """Counts operations; a failure never stops the run."""

    def __init__(self):
        self.ok = 0
        self.failed = []
        self.skipped = 0

    def check(self, label, fn):
        try:
            result = fn()
        except Exception as e:  # noqa: BLE001 - any failure is reported, not raised
            self.failed.append(label)
            print(f"FAIL {label}: {type(e).__name__}: {e}", flush=True)
            return None
        self.ok += 1
        print(f"ok   {label}", flush=True)
        return result

    def skip(self, label, why):
        self.skipped += 1
        print(f"skip {label}: {why}", flush=True)


def expect(condition, message):
    if not condition:
        raise AssertionError(message)


class Site:
    def __init__(self, doc_path, work):
        doc = json.load(open(doc_path))
        q = doc["qseow"]
        self.host = "127.0.0.1"
        self.cert_port = int(q["cert_url"].rsplit(":", 1)[1])
        self.proxy_port = int(q["proxy_url"].rsplit(":", 1)[1])
        self.cert = q["client_cert"]["cert"]
        self.key = q["client_cert"]["key"]
        self.ca = doc["ca_cert"]
        self.token = open(q["jwt"]["token_file"]).read().strip()
        self.work = work


# ---------------------------------------------------------------------------------------------
# qsAPI 2.2.0

def qsapi_client(site, mode):
    import qsAPI
    import qsAPI._controller as controller

    if mode == "cert":
        return qsAPI.QRS(proxy=site.host, port=site.cert_port,
                         certificate=(site.cert, site.key), verify=False,
                         user={"userDirectory": "INTERNAL", "userID": "sa_api"},
                         verbosity="WARNING")
    token = site.token

    class Bearer(requests.Session):
        def __init__(self):
            super().__init__()
            self.headers["Authorization"] = "Bearer " + token

    # The constructor already calls /qrs/about: every session it makes carries the bearer.
    controller.req.Session = Bearer
    try:
        return qsAPI.QRS(proxy=f"https://{site.host}:{site.proxy_port}", vproxy="jwt",
                         verify=False, verbosity="WARNING")
    finally:
        controller.req.Session = requests.sessions.Session


def wait_for_session(get_status, session_id, timeout=60):
    """Poll /qrs/executionsession/{id} until it is gone (404), as clients do."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if get_status(f"/qrs/executionsession/{session_id}") == 404:
            return True
        time.sleep(0.3)
    raise AssertionError(f"execution session {session_id} still there after {timeout} s")


def run_qsapi(run, site, mode):
    label = lambda op: f"qsAPI {mode} {op}"  # noqa: E731
    q = run.check(label("construct (GET /qrs/about)"), lambda: qsapi_client(site, mode))
    if q is None:
        return
    from distutils.version import LooseVersion

    run.check(label("getAbout"), lambda: expect(
        q.getAbout()["buildVersion"].startswith("38."), "buildVersion"))
    run.check(label("ping"), lambda: expect(
        q.ping().text == "Ping successful", "ping"))
    run.check(label("getDescription"), lambda: expect(
        all("method" in json.loads(line) for line in q.getDescription(extended="true")),
        "every line is a JSON object"))
    run.check(label("getEnum"), lambda: expect(
        "TaskExecutionStatus" in q.getEnum(), "TaskExecutionStatus"))

    apps = run.check(label("AppGet full"), lambda: q.AppGet())
    if not apps:
        return
    app = apps[0]
    a = app["id"]
    run.check(label("count app"), lambda: expect(q.count("app") == len(apps), "count"))
    run.check(label("count with filter"), lambda: expect(
        q.count("app", f"name eq '{app['name']}'") == 1, "one app by name"))
    run.check(label("AppGet filter"), lambda: expect(
        all(x["published"] for x in q.AppGet(pFilter="published eq true")), "published only"))
    run.check(label("AppGet id"), lambda: expect(q.AppGet(a)["id"] == a, "same id"))
    run.check(label("AppDictAttributes"), lambda: expect(
        q.AppDictAttributes()[app["name"]] == a, "name -> id"))
    run.check(label("case-insensitive path"), lambda: expect(
        q.driver.get("/qrs/App/Full").status_code == 200, "GET /qrs/App/Full"))

    stream = run.check(label("StreamCreate"), lambda: q.StreamCreate(f"qsAPI stream {mode}"))
    sid = stream["id"] if stream else None
    run.check(label("StreamGet"), lambda: expect(
        q.StreamGet(sid)["name"] == f"qsAPI stream {mode}", "stream by id"))
    run.check(label("StreamDictAttributes"), lambda: expect(
        q.StreamDictAttributes()[f"qsAPI stream {mode}"] == sid, "name -> id"))

    def rename_stream():
        s = q.StreamGet(sid)
        s["name"] = f"qsAPI stream {mode} renamed"
        expect(q.StreamUpdate(sid, s).status_code == 200, "StreamUpdate 200")
    run.check(label("StreamUpdate"), rename_stream)

    copy = run.check(label("AppCopy"), lambda: q.AppCopy(a, f"qsAPI copy {mode}"))
    cid = copy["id"] if copy else None
    run.check(label("AppPublish"), lambda: expect(
        q.AppPublish(cid, sid).status_code == 200, "publish 200"))

    def update_app():
        x = q.AppGet(cid)
        x["description"] = "changed by qsAPI"
        expect(q.AppUpdate(cid, x).status_code == 200, "update 200")
        expect(q.AppGet(cid)["description"] == "changed by qsAPI", "stored")
    run.check(label("AppUpdate"), update_app)
    run.check(label("AppReload"), lambda: expect(q.AppReload(a).status_code == 204, "204"))

    # Export: the token flow (cert port) and the older ticket flow (both).
    os.chdir(site.work)
    if mode == "cert":
        def export():
            path = os.path.join(site.work, f"qsapi-{mode}.qvf")
            r = q.AppExport(a, path, skipdata="false")
            expect(r.status_code == 200, f"download status {r.status_code}")
            expect(os.path.getsize(path) == app["fileSize"], "size of the download")
        run.check(label("AppExport (POST export, GET downloadPath on the cert port)"), export)
    else:
        run.skip(label("AppExport"), SKIPPED[1][3])

    legacy = f"qsapi-legacy-{mode}.qvf"

    def legacy_export():
        # qsAPI takes its older code path (GET export ticket, GET /qrs/download/app/...) for a
        # server before 17.0; the 38.x API still has both endpoints.
        current = q.VERSION_SERVER
        q.VERSION_SERVER = LooseVersion("16.0")
        try:
            r = q.AppExport(a, legacy)
        finally:
            q.VERSION_SERVER = current
        expect(r.status_code == 200, f"download status {r.status_code}")
        expect(os.path.getsize(legacy) == app["fileSize"], "size of the download")
    run.check(label("AppExport, older ticket flow"), legacy_export)

    uploaded = run.check(label("AppUpload"), lambda: q.AppUpload(legacy, f"qsAPI upload {mode}"))
    upid = None
    if uploaded is not None:
        run.check(label("AppUpload answer"), lambda: expect(
            uploaded.status_code == 201 and uploaded.json()["fileSize"] == app["fileSize"],
            f"{uploaded.status_code} {uploaded.text[:200]}"))
        upid = uploaded.json().get("id") if uploaded.status_code == 201 else None
    run.check(label("AppReplace"), lambda: expect(
        q.AppReplace(upid, cid).status_code == 200, "replace 200"))

    objects = run.check(label("AppObjectGet filter app.id"),
                        lambda: q.AppObjectGet(pFilter=f"app.id eq {a}"))
    if objects:
        oid = objects[0]["id"]
        run.check(label("AppObjectGet id"), lambda: expect(
            q.AppObjectGet(oid)["app"]["id"] == a, "object of the app"))
        run.check(label("AppObjectCount"), lambda: expect(
            q.AppObjectCount(f"app.id eq {a}")["value"] == len(objects), "count"))
        run.check(label("AppObjectApprove"), lambda: expect(
            q.AppObjectApprove(oid, True).status_code == 201, "approve 201"))
        run.check(label("AppObjectPublish"), lambda: expect(
            q.AppObjectPublish(oid, True).status_code == 200, "publish 200"))
        run.check(label("AppObject state"), lambda: expect(
            q.AppObjectGet(oid)["approved"] and q.AppObjectGet(oid)["published"], "flags"))

    def users():
        everyone = q.UserGet()
        expect(len(everyone) >= 5, "seeded users")
        body = {"userDirectory": "QSAPI", "userId": f"user-{mode}", "name": "Q S"}
        created = q.driver.post("/qrs/user", data=body)
        expect(created.status_code == 201, f"create {created.status_code}")
        again = q.driver.post("/qrs/user", data=body)
        expect(again.status_code == 409, f"duplicate userDirectory+userId: {again.status_code}")
        u = created.json()
        u["name"] = "Q. S."
        expect(q.UserUpdate(u["id"], u).status_code == 200, "update")
        expect(q.UserGet(u["id"])["name"] == "Q. S.", "stored")
        expect(q.UserDictAttributes(key="userId")[f"user-{mode}"] == u["id"], "dict")
        expect(q.UserDelete(u["id"]).status_code == 204, "delete")
    run.check(label("users (create, duplicate refused, update, delete)"), users)

    def tags():
        t = q.driver.post("/qrs/tag", data={"name": f"qsAPI tag {mode}"}).json()
        expect(q.TagsDictAttributes()[f"qsAPI tag {mode}"] == t["id"], "tag by name")
    run.check(label("tags"), tags)

    def custom_properties():
        body = {"name": f"qsapi_cp_{mode}", "valueType": "Text", "choiceValues": ["a", "b"],
                "objectTypes": ["App", "Stream"]}
        expect(q.driver.post("/qrs/custompropertydefinition", data=body).status_code == 201,
               "create")
        found = q.PropertiesGet(f"name eq 'qsapi_cp_{mode}'")
        expect(len(found) == 1 and found[0]["choiceValues"] == ["a", "b"], "PropertiesGet")
    run.check(label("custom properties"), custom_properties)

    tasks = run.check(label("TaskGet"), lambda: q.TaskGet())
    reloads = run.check(label("ReloadTaskGet"), lambda: q.ReloadTaskGet())
    if tasks and reloads:
        task = next(t for t in reloads if "[fail]" not in t["name"])
        tid = task["id"]
        run.check(label("ReloadTaskGet id"), lambda: expect(
            q.ReloadTaskGet(tid)["id"] == tid, "task by id"))
        status = lambda path: q.driver.get(path).status_code  # noqa: E731

        def start_and_poll():
            session = q.TaskStartSynchronous(tid).json()["value"]
            wait_for_session(status, session)
            results = q.driver.get("/qrs/executionresult/full",
                                   {"filter": f"executionID eq {session}"}).json()
            expect(results and results[-1]["status"] == 7, f"FinishedSuccess: {results}")
            last = q.ReloadTaskGet(tid)["operational"]["lastExecutionResult"]
            expect(last["status"] == 7, "operational.lastExecutionResult")
            return results[-1]
        result = run.check(label("TaskStartSynchronous + polling"), start_and_poll)

        if result:
            def script_log():
                fref = result["fileReferenceID"]
                ticket = q.driver.get(f"/qrs/reloadtask/{tid}/scriptlog",
                                      {"filereferenceid": fref}).json()["value"]
                path = os.path.join(site.work, f"qsapi-{mode}.log")
                r = q.driver.download(f"/qrs/download/reloadtask/{ticket}/script.log", path)
                expect(r.status_code == 200, f"download {r.status_code}")
                expect("Execution started." in open(path).read(), "a script log")
                ticket = q.driver.get(f"/qrs/reloadtask/{tid}/scriptlogfile",
                                      {"executionresultid": result["id"]}).json()["value"]
                expect(uuid.UUID(ticket), "ticket")
            run.check(label("script log download"), script_log)

        run.check(label("TaskStart"), lambda: expect(q.TaskStart(tid).status_code == 204, "204"))
        run.check(label("TaskStop"), lambda: expect(q.TaskStop(tid).status_code == 204, "204"))
        other = reloads[-1]
        run.check(label("TaskStartByName"), lambda: expect(
            q.TaskStartByName(other["name"]).status_code == 204, "204"))
        run.check(label("TaskStartByNameSynchronous"), lambda: expect(
            uuid.UUID(q.TaskStartByNameSynchronous(other["name"]).json()["value"]), "session"))
        ids = [t["id"] for t in reloads[:2]]
        run.check(label("TaskStartMany"), lambda: expect(
            q.TaskStartMany(ids).status_code == 204, "204"))
        run.check(label("TaskStopMany"), lambda: expect(
            q.TaskStopMany(ids).status_code == 204, "204"))

    def system_rules():
        before = q.SystemRulesGet()
        rule = {"name": f"qsAPI rule {mode}", "category": "Security", "type": "Custom",
                "rule": 'user.name like "*"', "resourceFilter": "App_*", "actions": 2,
                "comment": "", "disabled": False, "ruleContext": 0}
        created = q.SystemRulesCreate(rule)
        expect(created["name"] == rule["name"], "created")
        expect(len(q.SystemRulesGet()) == len(before) + 1, "listed")
        expect(q.SystemRulesDictAttributes()[rule["name"]] == created["id"], "dict")
        expect(q.driver.delete(f"/qrs/systemrule/{created['id']}").status_code == 204, "delete")
    run.check(label("system rules"), system_rules)

    def licences():
        info = q.LicenseUsageSummary()
        expect(info["schemaPath"] == "AccessTypesInfo", "AccessTypesInfo")
        analyzers = q.LicenseAccessGet(q.LicenseType.AnalyzerAccess)
        expect(q.LicenseAccessCount(q.LicenseType.AnalyzerAccess) == len(analyzers), "count")
        expect(info["analyzerAccessType"]["allocatedTokens"] == len(analyzers), "summary")
    run.check(label("licence summary and analyzer allocations"), licences)

    def table():
        body = {"entity": "App", "columns": [
            {"name": "id", "columnType": "Property", "definition": "id"},
            {"name": "name", "columnType": "Property", "definition": "name"}]}
        r = q.driver.post("/qrs/App/table", {"skip": 0, "take": 2, "sortColumn": "name",
                                             "orderAscending": True}, data=body)
        expect(r.status_code == 201, f"{r.status_code} {r.text[:200]}")
        expect(r.json()["columnNames"] == ["id", "name"] and len(r.json()["rows"]) == 2, "rows")
    run.check(label("table API"), table)

    def accessible():
        me = q.UserGet(pFilter="userId eq 'admin' or userId eq 'sa_api'")[0]["id"]
        r = q.driver.post("/qrs/systemrule/security/audit/accessibleobjects",
                          data={"resourceType": "App", "action": 2, "userID": me})
        expect(r.status_code == 201 and len(r.json()) == q.count("app"), f"{r.status_code}")
    run.check(label("accessible objects audit"), accessible)

    run.check(label("AppDelete"), lambda: expect(q.AppDelete(cid).status_code == 204, "204"))
    run.check(label("AppGet deleted"), lambda: expect(
        q.driver.get(f"/qrs/app/{cid}").status_code == 404, "404 after delete"))
    run.check(label("StreamDelete"), lambda: expect(q.StreamDelete(sid).status_code == 204, "204"))

    if mode == "jwt":
        run.check(label("QPS personal user"), lambda: expect(
            q.driver.get("/jwt/qps/user").json()["userId"] == "admin", "admin"))
    else:
        run.skip(label("QPS"), SKIPPED[4][3])
    run.skip(label("AppMigrate"), SKIPPED[2][3])
    run.skip(label("QPS.DeleteSession"), SKIPPED[3][3])


# ---------------------------------------------------------------------------------------------
# qrs-api-client 2.7.0

def rc_client(site, mode):
    from qrs_api_client import AuthManager, QRSClient

    if mode == "cert":
        auth = AuthManager(cert_path=site.cert, key_path=site.key, root_cert_path=site.ca)
        return QRSClient(server_name=site.host, server_port=site.cert_port,
                         auth_method="certificate", auth_manager=auth)
    token = site.token

    class JwtAuth(AuthManager):
        def get_auth(self, session, auth_method="jwt", verify_ssl=True):
            session.headers["Authorization"] = "Bearer " + token
            session.verify = verify_ssl
            return session

    # The client has no path prefix: the virtual proxy goes into the server string.
    return QRSClient(server_name=site.host, server_port=f"{site.proxy_port}/jwt",
                     auth_method="jwt", auth_manager=JwtAuth(), verify_ssl=site.ca)


def run_rc(run, site, mode):
    from qrs_api_client import models

    label = lambda op: f"qrs-api-client {mode} {op}"  # noqa: E731
    c = run.check(label("construct"), lambda: rc_client(site, mode))
    if c is None:
        return
    base = f"https://{c.server}"
    headers = {"X-Qlik-Xrfkey": c.xrf, "X-Qlik-User": "UserDirectory=INTERNAL;UserID=sa_repository"}

    def raw(method, path, **kw):
        """The client's own session, for answers its helpers turn into None."""
        sep = "&" if "?" in path else "?"
        return c.session.request(method, f"{base}{path}{sep}Xrfkey={c.xrf}",
                                 headers=headers | kw.pop("headers", {}), **kw)

    run.check(label("about"), lambda: expect(
        c.get("/qrs/about")["buildVersion"].startswith("38."), "buildVersion"))
    apps = run.check(label("full list"), lambda: c.get("/qrs/app/full"))
    if not apps:
        return
    app = apps[0]
    aid = app["id"]
    run.check(label("count"), lambda: expect(
        c.get("/qrs/app/count")["value"] == len(apps), "count"))
    run.check(label("condensed list"), lambda: expect(
        len(c.get("/qrs/app")) == len(apps) and "fileSize" not in c.get("/qrs/app")[0],
        "condensed"))
    run.check(label("filter"), lambda: expect(
        [x["id"] for x in c.get("/qrs/app/full", params={"filter": f"name eq '{app['name']}'"})]
        == [aid], "one app"))
    run.check(label("get"), lambda: expect(c.get(f"/qrs/app/{aid}")["id"] == aid, "by id"))
    run.check(label("case-insensitive path"), lambda: expect(
        len(c.get("/qrs/App/Full")) == len(apps), "GET /qrs/App/Full"))
    run.check(label("get_enum"), lambda: expect(
        "7: FinishedSuccess" in c.get_enum("ExecutionResult.Status"), "enum values"))
    run.check(label("app_get_id"), lambda: expect(
        str(c.app_get_id(app["name"])[0]) == aid, "id by name"))
    published = next(x for x in apps if x["stream"])
    run.check(label("app_get_id with stream"), lambda: expect(
        str(c.app_get_id(published["name"], published["stream"]["name"])[0]) == published["id"],
        "id by name and stream"))
    run.check(label("stream_get_id"), lambda: expect(len(c.stream_get_id("Sales")) == 1, "Sales"))
    run.check(label("description"), lambda: expect(
        "GET /qrs/about" in c.get("/qrs/about/api/description"), "lines"))

    tag = f"rc tag {mode}"
    run.check(label("create_tag"), lambda: expect(c.create_tag(tag)["name"] == tag, "tag"))
    run.check(label("create_tags"), lambda: expect(
        len(c.create_tags([f"rc a {mode}", f"rc b {mode}"])) == 2, "two tags"))
    run.check(label("app_set_tags"), lambda: expect(
        tag in [t["name"] for t in c.app_set_tags(aid, [tag])["tags"]], "tagged"))
    run.check(label("app_get_tags"), lambda: expect(
        tag in [t["name"] for t in c.app_get_tags(aid, [])], "tags"))

    cp = f"rc_cp_{mode}"
    run.check(label("create_custom_property"), lambda: expect(
        c.create_custom_property(cp, choice_values=["x", "y"], object_types=["App"])["name"] == cp,
        "definition"))
    run.check(label("create_custom_properties"), lambda: expect(
        len(c.create_custom_properties([models.custom_property_definition(
            name=f"rc_cp2_{mode}", value_type="Text", object_types=["App"])])) == 1, "one"))
    run.check(label("app_set_custom_properties"), lambda: expect(
        any(v["value"] == "x" for v in c.app_set_custom_properties(aid, {cp: ["x"]})
            ["customProperties"]), "value set"))
    run.check(label("app_get_custom_properties"), lambda: expect(
        any(v["definition"]["name"] == cp for v in c.app_get_custom_properties(aid)), "values"))
    run.check(label("app_get_owner"), lambda: expect(
        c.app_get_owner(aid)["userId"], "owner"))
    run.check(label("app_change_owner"), lambda: expect(
        c.app_change_owner(aid, "INTERNAL", "sa_api")["owner"]["userId"] == "sa_api", "owner"))

    # Export by hand (app_export itself is broken, see SKIPPED), then upload the file.
    path = os.path.join(site.work, f"rc-{mode}.qvf")

    def export():
        e = c.post(f"/qrs/app/{aid}/export/{uuid.uuid4()}", params={"skipData": False})
        expect(e and e["downloadPath"].startswith("/tempcontent/"), f"export answer {e}")
        r = c.session.get(f"{base}{e['downloadPath']}&Xrfkey={c.xrf}", headers=headers)
        expect(r.status_code == 200, f"download {r.status_code}: {r.text[:200]}")
        open(path, "wb").write(r.content)
        expect(len(r.content) == app["fileSize"], "size")
    run.check(label("export and download"), export)
    run.skip(label("app_export"), SKIPPED[0][3])

    up = run.check(label("app_upload"), lambda: c.app_upload(f"rc upload {mode}", path,
                                                             keep_data=False))
    if up:
        run.check(label("app_upload_replace"), lambda: expect(
            c.app_upload_replace(up["id"], path)["id"] == up["id"], "same app"))
    copy = run.check(label("copy"), lambda: c.post(f"/qrs/app/{aid}/copy",
                                                   params={"name": f"rc copy {mode}"}))
    stream = run.check(label("stream create"), lambda: c.post(
        "/qrs/stream", data=json.dumps({"name": f"rc stream {mode}"})))
    if copy and stream:
        run.check(label("publish"), lambda: expect(
            c.put(f"/qrs/app/{copy['id']}/publish", params={"stream": stream["id"]})
            ["published"], "published"))
    if up:
        c.delete(f"/qrs/app/{up['id']}")  # None either way: checked with a GET
        run.check(label("delete"), lambda: expect(
            c.get(f"/qrs/app/{up['id']}", silent_status_codes={404}) is None
            and raw("GET", f"/qrs/app/{up['id']}").status_code == 404, "gone"))

    def users():
        body = json.dumps({"userDirectory": "RC", "userId": f"user-{mode}"})
        created = c.post("/qrs/user", data=body)
        expect(created and created["userId"] == f"user-{mode}", "created")
        dup = raw("POST", "/qrs/user", data=body)
        expect(dup.status_code == 409, f"duplicate: {dup.status_code}")
        found = c.get("/qrs/user", params={"filter": f"userDirectory eq 'RC' and userId eq 'user-{mode}'"})
        expect(len(found) == 1, "one user")
    run.check(label("users"), users)

    def rules():
        rule = {"name": f"rc rule {mode}", "category": "Security", "type": "Custom",
                "rule": "true", "resourceFilter": "Stream_*", "actions": 2}
        created = c.post("/qrs/systemrule", data=json.dumps(rule))
        expect(created and created["name"] == rule["name"], "created")
        found = c.get("/qrs/systemrule/full", params={"filter": f"name eq '{rule['name']}'"})
        expect(len(found) == 1, "listed")
    run.check(label("system rules"), rules)

    task = run.check(label("reloadtask_create"), lambda: c.reloadtask_create(
        aid, f"rc task {mode}", enabled=True))
    run.check(label("app_reload (start and poll)"), lambda: expect(
        c.app_reload(aid, poll_interval=0.3)["success"], "FinishedSuccess"))
    if task:
        def start_and_poll():
            session = c.post(f"/qrs/task/{task['id']}/start/synchronous")["value"]
            deadline = time.time() + 60
            while c.get(f"/qrs/executionsession/{session}", silent_status_codes={404}):
                expect(time.time() < deadline, "still running after 60 s")
                time.sleep(0.3)
            results = c.get("/qrs/executionresult/full",
                            params={"filter": f"executionID eq {session}",
                                    "orderby": "startTime desc"})
            expect(results[0]["status"] == 7, f"status {results[0]['status']}")
        run.check(label("task start synchronous and polling"), start_and_poll)

    def table():
        body = {"type": "App", "columns": [
            {"name": "id", "columnType": 1, "definition": "id"},
            {"name": "tags", "columnType": 3, "definition": "tag",
             "list": [{"name": "name", "columnType": 1, "definition": "name"}]}]}
        t = c.post("/qrs/app/table", params={"filter": f"id eq {aid}"}, data=json.dumps(body))
        expect(t and t["rows"][0][0] == aid and [tag] in t["rows"][0][1], f"table {t}")
    run.check(label("table API"), table)
    run.check(label("app objects"), lambda: expect(
        all(o["app"]["id"] == aid for o in
            c.get("/qrs/app/object/full", params={"filter": f"app.id eq {aid}"})), "objects"))
    run.check(label("licence"), lambda: expect(
        c.get("/qrs/license/accesstypeinfo")["schemaPath"] == "AccessTypesInfo"
        and len(c.get("/qrs/license/analyzeraccesstype/full"))
        == c.get("/qrs/license/analyzeraccesstype/count")["value"], "licence"))

    if mode == "jwt":
        def personal_api():
            user = c.session.get(f"{base}/qps/user").json()
            expect(user["userId"] == "admin", f"{user}")
            token = c.session.get(f"{base}/qps/csrftoken")
            expect(token.status_code == 204 and token.headers.get("qlik-csrf-token"), "token")
            cookies = c.session.cookies.copy()
            expect(any(k.startswith("X-Qlik-Session") for k in cookies.keys()), "session cookie")
            out = c.session.delete(f"{base}/qps/user")
            expect(out.status_code == 204, f"logout {out.status_code}")
            # The cookie alone no longer authenticates.
            after = requests.get(f"{base}/qrs/about?Xrfkey={c.xrf}", cookies=cookies,
                                 headers={"X-Qlik-Xrfkey": c.xrf}, verify=site.ca)
            expect(after.status_code == 401, f"after logout {after.status_code}")
        run.check(label("QPS personal API (user, csrftoken, logout)"), personal_api)


def main():
    site = Site(sys.argv[1], sys.argv[2])
    run = Run()
    for mode in ("cert", "jwt"):
        run_qsapi(run, site, mode)
        run_rc(run, site, mode)
    print(f"conformance: {run.ok} operations ok, {len(run.failed)} failing, "
          f"{run.skipped} skipped (client bugs)")
    for label in run.failed:
        print(f"failing: {label}")
    return 1 if run.failed else 0


if __name__ == "__main__":
    sys.exit(main())
