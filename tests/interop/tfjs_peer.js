// tfjs_peer.js — the TensorFlow.js side of tests/interop_tfjs.sh (npm @tensorflow/tfjs,
// pure JavaScript, CPU backend). Models are loaded with tfjs's own loader
// (tf.loadLayersModel over HTTP from a server on 127.0.0.1 that this process starts),
// and saved the way tfjs's io handlers hand them over (io.withSaveHandler, then the
// model.json that tfjs's browserDownloads writes, the weights in one file beside it).
//
//   node tfjs_peer.js predict DIR IDS.json        probabilities of model DIR/model.json (JSON)
//   node tfjs_peer.js weights DIR                 every weight of the model (JSON: name -> hex)
//   node tfjs_peer.js build KIND DIR T V SEED     a model built in TF.js, saved to DIR
'use strict';
const fs = require('fs');
const path = require('path');
const http = require('http');
const tf = require(process.env.TFJS_PATH || '@tensorflow/tfjs');

function serve(dir) {
  const server = http.createServer((req, res) => {
    const file = path.join(dir, decodeURIComponent(req.url.split('?')[0]).replace(/^\/+/, ''));
    if (!file.startsWith(path.resolve(dir)) || !fs.existsSync(file)) { res.statusCode = 404; res.end(); return; }
    res.setHeader('Content-Type', file.endsWith('.json') ? 'application/json' : 'application/octet-stream');
    res.end(fs.readFileSync(file));
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

async function load(dir) {
  const server = await serve(path.resolve(dir));
  try {
    return await tf.loadLayersModel(`http://127.0.0.1:${server.address().port}/model.json`);
  } finally {
    server.close();
  }
}

function hexOf(values) {
  const f = new Float32Array(values);
  return Buffer.from(f.buffer).toString('hex');
}

async function build(kind, dir, T, V, seed) {
  // deterministic initializers: every random one gets the seed (rnnc draws its own anyway)
  const k = () => tf.initializers.glorotUniform({seed: seed++});
  const o = () => tf.initializers.orthogonal({gain: 1, seed: seed++});
  const common = {kernelInitializer: k(), recurrentInitializer: o(), recurrentActivation: 'sigmoid', unitForgetBias: true};
  const m = tf.sequential({name: 'tfjs_' + kind});
  m.add(tf.layers.embedding({inputDim: V, outputDim: 6, inputLength: T,
                             embeddingsInitializer: tf.initializers.randomUniform({minval: -0.05, maxval: 0.05, seed: seed++})}));
  if (kind === 'lstm') {
    m.add(tf.layers.lstm(Object.assign({units: 5, returnSequences: true}, common)));
    m.add(tf.layers.dropout({rate: 0.25}));
    m.add(tf.layers.lstm(Object.assign({units: 4}, common, {kernelInitializer: k(), recurrentInitializer: o()})));
  } else if (kind === 'gru') {
    m.add(tf.layers.gru({units: 5, kernelInitializer: k(), recurrentInitializer: o(), recurrentActivation: 'sigmoid', resetAfter: false}));
  } else if (kind === 'bidirectional') {
    m.add(tf.layers.bidirectional({layer: tf.layers.lstm(Object.assign({units: 5, returnSequences: true}, common)), mergeMode: 'sum'}));
    m.add(tf.layers.bidirectional({layer: tf.layers.gru({units: 4, kernelInitializer: k(), recurrentInitializer: o(),
                                                         recurrentActivation: 'sigmoid', resetAfter: false})}));
  } else {
    m.add(tf.layers.simpleRNN({units: 5, activation: 'relu', kernelInitializer: k(), recurrentInitializer: o()}));
  }
  m.add(tf.layers.dense({units: 3, activation: 'tanh', kernelInitializer: k()}));
  m.add(tf.layers.dense({units: 2, activation: 'softmax', kernelInitializer: k()}));
  // non-zero biases, so that their layout is checked too
  for (const layer of m.layers)
    for (const w of layer.weights)
      if (w.name.endsWith('bias')) w.write(tf.randomUniform(w.shape, -0.5, 0.5, 'float32', seed++));
  m.compile({optimizer: tf.train.adam(0.002), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy']});
  fs.mkdirSync(dir, {recursive: true});
  await m.save(tf.io.withSaveHandler(async (artifacts) => {
    const data = Array.isArray(artifacts.weightData) ? tf.io.concatenateArrayBuffers(artifacts.weightData) : artifacts.weightData;
    const manifest = [{paths: ['./weights.bin'], weights: artifacts.weightSpecs}];
    // the fields tfjs-core's own handlers write (io_utils getModelJSONForModelArtifacts,
    // not exported by the package)
    const json = {modelTopology: artifacts.modelTopology, format: artifacts.format, generatedBy: artifacts.generatedBy,
                  convertedBy: artifacts.convertedBy, weightsManifest: manifest};
    if (artifacts.trainingConfig != null) json.trainingConfig = artifacts.trainingConfig;
    fs.writeFileSync(path.join(dir, 'weights.bin'), Buffer.from(data));
    fs.writeFileSync(path.join(dir, 'model.json'), JSON.stringify(json));
    return {modelArtifactsInfo: {dateSaved: new Date(), modelTopologyType: 'JSON'}};
  }), {includeOptimizer: kind === 'lstm'});   // its trainingConfig and the optimizer's weights too
}

async function main() {
  await tf.setBackend('cpu');
  const [cmd, ...a] = process.argv.slice(2);
  if (cmd === 'predict') {
    const m = await load(a[0]);
    const ids = JSON.parse(fs.readFileSync(a[1], 'utf8'));
    const p = m.predict(tf.tensor2d(ids, undefined, 'int32'));
    process.stdout.write(JSON.stringify(await p.array()) + '\n');
  } else if (cmd === 'weights') {
    const m = await load(a[0]);
    const out = {};
    for (const w of m.weights) out[w.originalName] = hexOf(w.read().dataSync());
    process.stdout.write(JSON.stringify(out) + '\n');
  } else if (cmd === 'build') {
    await build(a[0], a[1], +a[2], +a[3], +a[4]);
  } else {
    throw new Error('unknown command ' + cmd);
  }
}

main().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\n'); process.exit(1); });
