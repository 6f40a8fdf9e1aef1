// ONNX Runtime (CPU) side of the side-by-side benchmark.
//   node ort_bench.js MODEL.onnx INPUT.npy THREADS RUNS WARMUP [OUT.npy]
// Prints one JSON line: load_ms, first_ms, lat (ms), peak_rss_mb.
'use strict';
const t0 = process.hrtime.bigint();
const ort = require('onnxruntime-node');
const { ms, timeRuns } = require('./ort_common');

async function main() {
  const [model, input, threads, runs, warmup, out] = process.argv.slice(2);
  const tImport = process.hrtime.bigint();
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
  const tLoad = process.hrtime.bigint();
  const r = await timeRuns(ort, sess, input, runs, warmup, out);
  console.log(JSON.stringify({
    load_ms: ms(tImport, tLoad), import_ms: ms(t0, tImport), ...r,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }));
}

main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
