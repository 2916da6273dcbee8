// ONNX Runtime (onnxruntime-node) float inference throughput, same protocol as hq-bench:
// random uniform [-1, 1) input of the model's shape with batch B, 3 warm-up batches,
// then batches until S seconds have passed (at least 10); prints one JSON line.
//   node bench/ort_bench.js MODEL [BATCH=256] [THREADS=2] [SECONDS=5]
'use strict';
const path = require('path');
const ort = require(path.join(__dirname, 'node_modules', 'onnxruntime-node'));

async function main() {
  const [model, batchArg, threadsArg, secondsArg] = process.argv.slice(2);
  const batch = parseInt(batchArg || '256', 10);
  const threads = parseInt(threadsArg || '2', 10);
  const seconds = parseFloat(secondsArg || '5');
  const t0 = process.hrtime.bigint();
  const session = await ort.InferenceSession.create(model, {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const inputName = session.inputNames[0];
  // Input shape from the model's metadata (dynamic batch -> batch).
  let dims;
  const meta = session.inputMetadata ? session.inputMetadata[0] : null;
  if (meta && meta.shape) {
    dims = meta.shape.map((d, i) => (i === 0 || typeof d !== 'number' ? batch : d));
  } else {
    dims = model.includes('mobilenet') ? [batch, 3, 32, 32] : [batch, 1, 28, 28];
  }
  const n = dims.reduce((a, b) => a * b, 1);
  // Deterministic LCG, uniform [-1, 1).
  const data = new Float32Array(n);
  let s = 12345;
  for (let i = 0; i < n; ++i) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    data[i] = (s / 4294967296) * 2 - 1;
  }
  const run = async () => {
    // Tensor creation each batch: the packing a user would do.
    const feeds = {[inputName]: new ort.Tensor('float32', data, dims)};
    return session.run(feeds);
  };
  await run();
  const prepare = Number(process.hrtime.bigint() - t0) / 1e9;
  for (let i = 0; i < 2; ++i) await run();
  const times = [];
  const start = process.hrtime.bigint();
  while (times.length < 10 || Number(process.hrtime.bigint() - start) / 1e9 < seconds) {
    const a = process.hrtime.bigint();
    await run();
    times.push(Number(process.hrtime.bigint() - a) / 1e9);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(times.length / 2)];
  const rss = process.resourceUsage().maxRSS / 1024;  // KiB -> MiB
  console.log(JSON.stringify({
    runtime: 'onnxruntime', model, batch, threads, iters: times.length,
    median_batch_ms: +(1e3 * median).toFixed(3), img_per_s: +(batch / median).toFixed(1),
    prepare_s: +prepare.toFixed(3), peak_rss_mib: +rss.toFixed(1),
  }));
}

main().catch((e) => {
  console.error('ort_bench: ' + (e && e.message ? e.message : e));
  process.exit(1);
});
