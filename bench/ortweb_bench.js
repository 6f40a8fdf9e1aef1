// ONNX Runtime Web side of bench/web.py: onnxruntime-web's WebAssembly
// backend (SIMD, numThreads workers) run by node, as transformers.js runs it.
//   node ortweb_bench.js MODEL.onnx INPUT.npy THREADS RUNS WARMUP [OUT.npy]
// Prints one JSON line: load_ms, first_ms, lat (ms), peak_rss_mb, and the
// wasm file ORT loaded.
'use strict';
const fs = require('fs');
const path = require('path');
const ms = (a, b) => Number(b - a) / 1e6;

function readNpyF32(p) {
  const buf = fs.readFileSync(p);
  const hlen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + hlen);
  if (!header.includes("'<f4'")) throw new Error(`${p}: not float32`);
  const shape = header.match(/\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + 10 + hlen, buf.byteOffset + buf.length));
  return { shape, data };
}

function writeNpyF32(p, data, shape) {
  let h = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + h.length + 1) % 64) h += ' ';
  h += '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
  fs.writeFileSync(p, Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(data.buffer)]));
}

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
  const x = readNpyF32(input);
  const feeds = { x: new ort.Tensor('float32', x.data, x.shape) };
  let t = process.hrtime.bigint();
  let res = await sess.run(feeds);
  const first = ms(t, process.hrtime.bigint());
  const lat = [];
  for (let i = 0; i < Number(warmup) + Number(runs); i++) {
    t = process.hrtime.bigint();
    res = await sess.run(feeds);
    const dt = ms(t, process.hrtime.bigint());
    if (i >= Number(warmup)) lat.push(dt);
  }
  if (out) writeNpyF32(out, res.emb.data, res.emb.dims);
  console.log(JSON.stringify({
    load_ms: ms(t0, tLoad), first_ms: first, lat, threads: ort.env.wasm.numThreads,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }));
  process.exit(0); // the thread pool's workers would keep node alive
}

main().catch((e) => { console.error(`ortweb_bench: ${e.message}`); process.exit(1); });
