// ONNX Runtime Web side of bench/web.py: onnxruntime-web's WebAssembly
// backend (SIMD, numThreads workers) run by node, as transformers.js runs it.
//   node ortweb_bench.js MODEL.onnx INPUT.npy THREADS RUNS WARMUP [OUT.npy]
// Prints one JSON line: load_ms, first_ms, lat (ms), threads, peak_rss_mb.
'use strict';
const fs = require('fs');
const path = require('path');
const { ms, timeRuns } = require('./ort_common');

async function main() {
  const [model, input, threads, runs, warmup, out] = process.argv.slice(2);
  const ort = require('onnxruntime-web');
  ort.env.wasm.numThreads = Number(threads);
  ort.env.wasm.simd = true;
  // the package's own .wasm files, read from disk (node has no page to fetch from)
  ort.env.wasm.wasmPaths = path.join(path.dirname(require.resolve('onnxruntime-web')), path.sep);
  const t0 = process.hrtime.bigint();
  const sess = await ort.InferenceSession.create(fs.readFileSync(model), {
    executionProviders: ['wasm'], graphOptimizationLevel: 'all',
  });
  const tLoad = process.hrtime.bigint();
  const r = await timeRuns(ort, sess, input, runs, warmup, out);
  console.log(JSON.stringify({
    load_ms: ms(t0, tLoad), ...r, threads: ort.env.wasm.numThreads,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }));
  process.exit(0); // the thread pool's workers would keep node alive
}

main().catch((e) => { console.error(`ortweb_bench: ${e.message}`); process.exit(1); });
