"""Drive QEM's own Python client (aem_client.py, shipped with QEM under
<install>/clients/python) against the sandbox emulator.

Usage: python3 aem_client_smoke.py <folder holding aem_client.py> <port>
"""
import base64
import json
import sys

sys.path.insert(0, sys.argv[1])
from aem_client import *  # noqa: E402,F401,F403

port = int(sys.argv[2])
S = 'Sandbox Replicate'
b64 = base64.b64encode('SANDBOX\\admin:Passw0rd!'.encode('utf-8')).decode('ascii')
c = AemClient(b64, '127.0.0.1', port=port, verify_certificate=False)


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except AemClientException as e:
        assert e.error_code == code, (e.error_code, e.message)
        return
    raise AssertionError('expected ' + code)


servers = c.get_server_list()
assert servers.serverList[0].name == S
assert servers.serverList[0].state == AemServerState.MONITORED
assert servers.serverList[0].platform == AemPlatform.LINUX
details = c.get_server_details(S).server_details
assert details.task_summary.total == 4, details.task_summary.__dict__
assert details.license.state == AemLicenseState.VALID_LICENSE

srv = AemReplicateServer()
srv.name = 'My Sample Server'
srv.description = 'added by the Python client'
srv.host = 'rep2.example.com'
srv.port = 3552
srv.username = 'DOM\\svc'
srv.password = 'pw'
c.put_server(srv, 'My Sample Server')
got = c.get_server('My Sample Server')
assert got.host == 'rep2.example.com' and got.type == ServerType.REPLICATE
c.put_server(got, 'My Sample Server')  # placeholder password round trip in this session
c.put_server_license('license_type=Permanent\nexpiration_date=2099-12-31\n', 'My Sample Server')

expect_error('AEM_SERVER_HAS_NO_ACL', c.get_server_acl, 'My Sample Server')
acl = AemAuthorizationAcl()
acl.admin_role = AemRoleDef()
user = AemUserRef()
user.name = 'DOM\\alice'
acl.admin_role.users.append(user)
c.put_server_acl(acl, 'My Sample Server')
assert c.get_server_acl('My Sample Server').admin_role.users[0].name == 'DOM\\alice'

tasks = c.get_task_list(S).taskList
assert [t.name for t in tasks][0] == 'Sales to Kafka'
d = c.get_task_details(S, 'Sales to Kafka')
assert d.state == AemTaskState.RUNNING and d.source_endpoint.name == 'Oracle Sales'

exported = c.export_task(S, 'Sales to Kafka', withendpoints=True)
doc = json.loads(exported)
doc['cmd.replication_definition']['tasks'][0]['task']['name'] = 'Py Copy'
c.import_task(json.dumps(doc), S, 'Py Copy')
resp = c.run_task(AemRunTaskReq(), S, 'Py Copy', option=AemRunTaskOptions.RELOAD_TARGET, timeout=10)
assert resp.state == AemTaskState.RUNNING, resp.__dict__
expect_error('AEM_TASK_NOT_STOPPED', c.delete_task, S, 'Py Copy')
resp = c.stop_task(S, 'Py Copy', timeout=10)
assert resp.state == AemTaskState.STOPPED
expect_error('AEM_TASK_ALREADY_STOPPED', c.stop_task, S, 'Py Copy')

tables = c.get_table_list(S, 'Sales to Kafka', '%', '%', True, True, True, True, True)
assert len(tables.tablelist) == 4
statuses = c.get_table_statuses(S, 'Sales to Kafka', 'SALES', 'ORDER%', False, False, False, False, False)
assert len(statuses.table_details) == 2
c.reload_table(S, 'Sales to Kafka', 'SALES', 'ORDERS')

eps = c.get_endpoint_list(S).endpointList
assert any(e.name == 'Oracle Sales' and e.role == EndpointRole.SOURCE for e in eps)
assert c.test_endpoint(S, 'Oracle Sales').status == AemEndpointState.CONNECTED

c.delete_task(S, 'Py Copy', deletetasklogs=True)
expect_error('AEM_TASK_NOT_FOUND', c.get_task_details, S, 'Py Copy')
audit = json.loads(c.export_audit_trail('2000-01-01T00:00:00Z', '2100-01-01T00:00:00Z'))
ops = [r['operation'] for r in audit['audit_trail']]
assert 'ImportTask' in ops and 'RunTask' in ops, ops
c.delete_server('My Sample Server')
expect_error('AEM_SERVER_NOT_FOUND', c.get_server, 'My Sample Server')
print('aem_client smoke: OK')
