// Drives a Qlik engine with enigma.js the way scripts and qlik-cli-like tools do: open the app,
// get and set the script, check its syntax, reload while polling GetProgress, create a sheet
// with a child, read trees and layouts, change properties, a variable, evaluate, save.
// Prints one JSON line of what it saw; on failure prints the engine error and exits 1.
//
// node enigma_session.js <wss://host[:port][/prefix]/app/<id>> [--ca FILE] [--cert FILE --key FILE]
//                        [--header 'Name: value']...
// Needs enigma.js and ws (NODE_PATH); the integration test pins enigma.js@2.15.0 and ws@8.23.0.
'use strict';

const fs = require('fs');
const enigma = require('enigma.js');
const WebSocket = require('ws');
const schema = require('enigma.js/schemas/12.2027.0.json');

const [url, ...rest] = process.argv.slice(2);
const headers = {};
const tls = {};
for (let i = 0; i < rest.length; i += 1) {
  const flag = rest[i];
  const value = rest[i + 1];
  i += 1;
  if (flag === '--header') {
    const at = value.indexOf(':');
    headers[value.slice(0, at).trim()] = value.slice(at + 1).trim();
  } else if (flag === '--ca') {
    tls.ca = fs.readFileSync(value);
  } else if (flag === '--cert') {
    tls.cert = fs.readFileSync(value);
  } else if (flag === '--key') {
    tls.key = fs.readFileSync(value);
  } else {
    throw new Error(`unknown flag ${flag}`);
  }
}
const appId = decodeURIComponent(new URL(url).pathname.split('/app/')[1].split('/')[0]);
const sleep = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

async function main() {
  const notifications = [];
  const session = enigma.create({
    schema,
    url,
    createSocket: (u) => new WebSocket(u, { headers, ...tls }),
  });
  session.on('notification:*', (name) => notifications.push(name));
  const connected = new Promise((resolve) => {
    session.on('notification:OnConnected', (params) => resolve(params.qSessionState));
  });
  const global = await session.open();
  const state = await connected;
  const doc = state === 'SESSION_ATTACHED' ? await global.getActiveDoc() : await global.openDoc(appId);

  const script = await doc.getScript();
  const added = '\r\n///$tab enigma\r\nEnigma:\r\nLOAD * INLINE [\r\nk, v\r\n1, one\r\n2, two\r\n];\r\n';
  await doc.setScript(script + added);
  const scriptBack = await doc.getScript();
  const syntaxErrors = await doc.checkScriptSyntax();

  // Reload, polling its progress with the request id, as qlik-cli and corectl do.
  const reload = doc.doReload(0, false, false);
  let finished = false;
  reload.then(() => { finished = true; }, () => { finished = true; });
  let log = '';
  for (;;) {
    const p = await global.getProgress(reload.requestId);
    log += p.qPersistentProgress || '';
    if (p.qFinished || finished) break;
    await sleep(50);
  }
  const reloaded = await reload;
  log += (await global.getProgress(reload.requestId)).qPersistentProgress || '';

  const sheet = await doc.createObject({
    qInfo: { qId: 'enigma-sheet', qType: 'sheet' },
    qMetaDef: { title: 'Made by enigma.js' },
    qChildListDef: { qData: { title: '/title' } },
  });
  const child = await sheet.createChild({
    qInfo: { qType: 'kpi' },
    title: 'Child',
    qHyperCubeDef: { qMeasures: [{ qDef: { qDef: 'Sum(v)' } }] },
  });
  const props = await child.getProperties();
  props.title = 'Renamed child';
  await child.setProperties(props);
  const tree = await sheet.getFullPropertyTree();
  const layout = await sheet.getLayout();
  const missing = await doc.getObject('no-such-object').then(() => 'found', (e) => e.code);
  const infos = await doc.getAllInfos();
  await doc.createVariableEx({ qInfo: { qType: 'variable' }, qName: 'vEnigma', qDefinition: '=1+2' });
  const evaluated = await doc.evaluate('vEnigma * 2');
  const evaluatedEx = await doc.evaluateEx("Upper('enigma')");
  const evalError = await doc.evaluate('Sum(v)').then(() => null, (e) => e.code);
  const appLayout = await doc.getAppLayout();
  await doc.doSave();

  console.log(JSON.stringify({
    state,
    scriptRoundTrip: scriptBack === script + added,
    syntaxErrors: syntaxErrors.length,
    reloaded,
    log,
    children: tree.qChildren.map((c) => c.qProperty.title),
    childList: layout.qChildList.qItems.map((i) => i.qData.title),
    sheetTitle: layout.qMeta.title,
    missing,
    objectInfos: infos.filter((i) => i.qType === 'sheet' || i.qType === 'kpi').length,
    evaluated,
    evaluatedEx: evaluatedEx.qText,
    evalError,
    hasData: appLayout.qHasData,
    notifications,
  }));
  await session.close();
}

main().catch((e) => {
  console.error('FAIL', e && e.code, e && e.parameter, e && e.message);
  process.exit(1);
});
