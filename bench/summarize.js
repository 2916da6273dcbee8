// Table of bench/run_inference.sh results (one JSON object per line): median img/s over
// rounds per model and runtime, hq's ratios to ONNX Runtime and PyTorch, peak RSS.
'use strict';
const fs = require('fs');
const rows = fs.readFileSync(process.argv[2], 'utf8').split('\n').filter((l) => l.trim())
    .map((l) => JSON.parse(l));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const byModel = new Map();
for (const r of rows) {
  if (!byModel.has(r.name)) byModel.set(r.name, new Map());
  const m = byModel.get(r.name);
  if (!m.has(r.runtime)) m.set(r.runtime, []);
  m.get(r.runtime).push(r);
}
const pad = (s, n) => String(s).padStart(n);
console.log(['model', 'runtime', 'img/s (median)', 'runs (img/s)', 'peak RSS MiB'].join(' | '));
for (const [name, m] of byModel) {
  const ips = {};
  for (const [rt, rs] of m) {
    ips[rt] = median(rs.map((r) => r.img_per_s));
    const runs = rs.map((r) => Math.round(r.img_per_s)).join(', ');
    const rss = Math.max(...rs.map((r) => r.peak_rss_mib));
    console.log([name, rt, pad(Math.round(ips[rt]), 8), runs, rss.toFixed(1)].join(' | '));
  }
  const parts = [];
  if (ips.hq && ips.onnxruntime) parts.push(`hq/ORT = ${(ips.hq / ips.onnxruntime).toFixed(2)}x`);
  if (ips.hq && ips.pytorch) parts.push(`hq/PyTorch = ${(ips.hq / ips.pytorch).toFixed(2)}x`);
  console.log(`${name}: ${parts.join(', ')}`);
}
