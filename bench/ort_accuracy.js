// ONNX Runtime (onnxruntime-node) top-1 of a model on preprocessed images from .npy files:
// the interoperability check of bench/run_int_inference.sh --accuracy (ORT on hq's QDQ
// model vs hq-eval on the same model). IMAGES.npy is float32 [N, C, H, W] (written by
// bench/export_test_set.py with hq's dataset preprocessing), LABELS.npy int64 or uint8 [N].
// Prints one JSON line; --dump-logits writes the float32 [N, classes] logits as .npy;
// --optimized-out writes the graph ORT actually runs (after its optimizations) as ONNX;
// --opt-level disabled runs the graph as written (DequantizeLinear, float op, QuantizeLinear).
//   node bench/ort_accuracy.js MODEL IMAGES.npy LABELS.npy [--batch 256] [--threads 2]
//                              [--dump-logits OUT.npy] [--optimized-out OUT.onnx]
//                              [--opt-level all|extended|basic|disabled]
'use strict';
const fs = require('fs');
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

/// Reads a little-endian C-order .npy (format 1.x or 2.x) of float32, int64 or uint8.
function readNpy(file) {
  const buf = fs.readFileSync(file);
  if (buf.length < 10 || buf.toString('latin1', 0, 6) !== '\x93NUMPY') {
    throw new Error(`${file}: not a .npy file (bad magic)`);
  }
  const major = buf[6];
  const headerLen = major === 1 ? buf.readUInt16LE(8) : buf.readUInt32LE(8);
  const start = (major === 1 ? 10 : 12) + headerLen;
  const header = buf.toString('latin1', major === 1 ? 10 : 12, start);
  const descr = /'descr':\s*'([^']+)'/.exec(header);
  const shape = /'shape':\s*\(([^)]*)\)/.exec(header);
  if (!descr || !shape || /'fortran_order':\s*True/.test(header)) {
    throw new Error(`${file}: expected a C-order array, found header ${header.trim()}`);
  }
  const dims = shape[1].split(',').map((s) => s.trim()).filter((s) => s).map(Number);
  const count = dims.reduce((a, b) => a * b, 1);
  const bytes = buf.subarray(start);
  const copy = (Type, size) => {
    if (bytes.length !== count * size) {
      throw new Error(`${file}: expected ${count * size} data bytes for shape [${dims}], ` +
                      `found ${bytes.length}`);
    }
    const out = new Type(count);
    Buffer.from(out.buffer).set(bytes);
    return out;
  };
  switch (descr[1]) {
    case '<f4': return {dims, data: copy(Float32Array, 4)};
    case '<i8': return {dims, data: Array.from(copy(BigInt64Array, 8), Number)};
    case '|u1': return {dims, data: Array.from(copy(Uint8Array, 1))};
    default: throw new Error(`${file}: expected dtype <f4, <i8 or |u1, found ${descr[1]}`);
  }
}

/// Writes a float32 [rows, cols] array as a version 1.0 .npy file.
function writeNpy(file, data, rows, cols) {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${rows}, ${cols}), }`;
  header += ' '.repeat(63 - ((10 + header.length) % 64)) + '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1;
  head[7] = 0;
  head.writeUInt16LE(header.length, 8);
  fs.writeFileSync(file, Buffer.concat([head, Buffer.from(header, 'latin1'),
                                        Buffer.from(data.buffer, data.byteOffset,
                                                    data.byteLength)]));
}

async function main() {
  const args = process.argv.slice(2);
  const opts = {batch: 256, threads: 2, dumpLogits: '', optimizedOut: '', optLevel: 'all'};
  const pos = [];
  for (let i = 0; i < args.length; ++i) {
    if (args[i] === '--batch') opts.batch = parseInt(args[++i], 10);
    else if (args[i] === '--threads') opts.threads = parseInt(args[++i], 10);
    else if (args[i] === '--dump-logits') opts.dumpLogits = args[++i];
    else if (args[i] === '--optimized-out') opts.optimizedOut = args[++i];
    else if (args[i] === '--opt-level') opts.optLevel = args[++i];
    else if (args[i].startsWith('--')) throw new Error(`unknown option ${args[i]}`);
    else pos.push(args[i]);
  }
  if (pos.length !== 3) {
    throw new Error('usage: ort_accuracy.js MODEL IMAGES.npy LABELS.npy [--batch N] ' +
                    '[--threads N] [--dump-logits OUT.npy] [--optimized-out OUT.onnx] ' +
                    '[--opt-level all|extended|basic|disabled]');
  }
  const [model, imagesFile, labelsFile] = pos;
  const images = readNpy(imagesFile);
  const labels = readNpy(labelsFile);
  const n = images.dims[0];
  if (labels.dims.length !== 1 || labels.dims[0] !== n) {
    throw new Error(`${labelsFile}: expected [${n}] labels, found [${labels.dims}]`);
  }
  const sessionOptions = {
    intraOpNumThreads: opts.threads, interOpNumThreads: 1, executionMode: 'sequential',
    graphOptimizationLevel: opts.optLevel,
  };
  if (opts.optimizedOut) sessionOptions.optimizedModelFilePath = opts.optimizedOut;
  const session = await ort.InferenceSession.create(model, sessionOptions);
  const inputName = session.inputNames[0];
  const outputName = session.outputNames[0];
  const per = images.data.length / n;
  let logits = null, classes = 0, correct = 0;
  const t0 = process.hrtime.bigint();
  for (let s = 0; s < n; s += opts.batch) {
    const b = Math.min(opts.batch, n - s);
    const x = images.data.subarray(s * per, (s + b) * per);
    const out = (await session.run({
      [inputName]: new ort.Tensor('float32', x, [b, ...images.dims.slice(1)]),
    }))[outputName];
    if (!logits) {
      classes = out.dims[1];
      logits = new Float32Array(n * classes);
    }
    if (out.dims.length !== 2 || out.dims[0] !== b || out.dims[1] !== classes) {
      throw new Error(`${model}: expected logits [${b}, ${classes}], found [${out.dims}]`);
    }
    logits.set(out.data, s * classes);
    for (let i = 0; i < b; ++i) {
      let best = 0;
      for (let c = 1; c < classes; ++c) {
        if (out.data[i * classes + c] > out.data[i * classes + best]) best = c;
      }
      if (best === labels.data[s + i]) ++correct;
    }
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (opts.dumpLogits) writeNpy(opts.dumpLogits, logits, n, classes);
  console.log(JSON.stringify({
    runtime: 'onnxruntime', ort_version: ort.env.versions ? ort.env.versions.common : undefined,
    model, count: n, correct_top1: correct, top1: +(100 * correct / n).toFixed(2),
    seconds: +seconds.toFixed(3), threads: opts.threads, batch: opts.batch,
    opt_level: opts.optLevel,
  }));
}

main().catch((e) => {
  console.error('ort_accuracy: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
