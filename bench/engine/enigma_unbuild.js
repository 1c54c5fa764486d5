// The "app as files" read of an app with enigma.js, requests pipelined with Promise.all: the
// peer of `qtool app unbuild` in bench/engine_unbuild.sh. It reads what qlik-cli's unbuild
// writes (script, app properties, connections, dimensions, measures, variables, every top-level
// object as a full property tree) and, with --out DIR, writes it in that layout.
//
// node enigma_unbuild.js <wss://host[:port][/prefix]/app/<id>> [--ca FILE] [--cert FILE --key FILE]
//                        [--header 'Name: value']... [--out DIR]
// Prints one JSON line: {"ms": <elapsed from open to last answer>, "objects": N, ...}.
'use strict';

const fs = require('fs');
const path = require('path');
const enigma = require('enigma.js');
const WebSocket = require('ws');
const schema = require('enigma.js/schemas/12.2027.0.json');

const [url, ...rest] = process.argv.slice(2);
const headers = {};
const tls = {};
let out = null;
for (let i = 0; i < rest.length; i += 2) {
  const [flag, value] = [rest[i], rest[i + 1]];
  if (flag === '--header') {
    const at = value.indexOf(':');
    headers[value.slice(0, at).trim()] = value.slice(at + 1).trim();
  } else if (flag === '--ca') tls.ca = fs.readFileSync(value);
  else if (flag === '--cert') tls.cert = fs.readFileSync(value);
  else if (flag === '--key') tls.key = fs.readFileSync(value);
  else if (flag === '--out') out = value;
  else throw new Error(`unknown flag ${flag}`);
}
const appId = decodeURIComponent(new URL(url).pathname.split('/app/')[1].split('/')[0]);
const LIBRARY = new Set(['dimension', 'measure', 'variable', 'bookmark']);

async function main() {
  const started = process.hrtime.bigint();
  const session = enigma.create({ schema, url, createSocket: (u) => new WebSocket(u, { headers, ...tls }) });
  const global = await session.open();
  const doc = await global.openDoc(appId);
  const [script, appProperties, connections, infos] = await Promise.all([
    doc.getScript(), doc.getAppProperties(), doc.getConnections(), doc.getAllInfos(),
  ]);
  const byType = (t) => infos.filter((i) => i.qType === t);
  const [dimensions, measures] = await Promise.all([
    Promise.all(byType('dimension').map(async (i) => (await doc.getDimension(i.qId)).getProperties())),
    Promise.all(byType('measure').map(async (i) => (await doc.getMeasure(i.qId)).getProperties())),
  ]);
  const list = await doc.createSessionObject({
    qInfo: { qType: 'VariableList' },
    qVariableListDef: { qType: 'variable', qData: {} },
  });
  const variableNames = (await list.getLayout()).qVariableList.qItems.map((v) => v.qName);
  const variables = await Promise.all(variableNames.map(async (n) => (await doc.getVariableByName(n)).getProperties()));
  const objectInfos = infos.filter((i) => !LIBRARY.has(i.qType));
  const trees = await Promise.all(objectInfos.map(async (i) => (await doc.getObject(i.qId)).getFullPropertyTree()));
  const children = new Set();
  const collect = (entry) => entry.qChildren.forEach((c) => { children.add(c.qProperty.qInfo.qId); collect(c); });
  trees.forEach(collect);
  const top = trees.filter((t) => !children.has(t.qProperty.qInfo.qId));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;

  if (out) {
    const dump = (v) => JSON.stringify(v, null, 2);
    fs.mkdirSync(path.join(out, 'objects'), { recursive: true });
    fs.writeFileSync(path.join(out, 'script.qvs'), script);
    fs.writeFileSync(path.join(out, 'app-properties.json'), dump(appProperties));
    fs.writeFileSync(path.join(out, 'dimensions.json'), dump(dimensions));
    fs.writeFileSync(path.join(out, 'measures.json'), dump(measures));
    fs.writeFileSync(path.join(out, 'variables.json'), dump(variables));
    const yml = connections.map((c) => `  ${c.qName}:\n    type: ${c.qType}\n    connectionstring: ${c.qConnectionString}\n`);
    fs.writeFileSync(path.join(out, 'connections.yml'), `connections:\n${yml.join('')}`);
    for (const t of top) {
      const p = t.qProperty;
      const name = `${p.qInfo.qType}-${p.visualization || ''}-${(p.qMetaDef && p.qMetaDef.title) || p.qInfo.qId}`
        .toLowerCase().replace(/[^\p{L}\p{N}_-]+/gu, '-');
      fs.writeFileSync(path.join(out, 'objects', `${name}.json`), dump(t.qChildren.length ? t : p));
    }
    fs.writeFileSync(path.join(out, 'config.yml'), 'script: script.qvs\nconnections: connections.yml\n'
      + 'dimensions: dimensions.json\nmeasures: measures.json\nobjects: objects/*.json\n'
      + 'variables: variables.json\napp-properties: app-properties.json\n');
  }
  console.log(JSON.stringify({
    ms: Math.round(ms), objects: objectInfos.length, topLevel: top.length,
    dimensions: dimensions.length, measures: measures.length, variables: variables.length,
  }));
  await session.close();
}

main().catch((e) => {
  console.error('FAIL', e && e.code, e && e.parameter, e && e.message);
  process.exit(1);
});
