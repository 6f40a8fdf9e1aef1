// ONNX Runtime (CPU) side of the side-by-side benchmark.
//   node ort_bench.js MODEL.onnx INPUT.npy THREADS RUNS WARMUP [OUT.npy]
// Prints one JSON line: load_ms, first_ms, lat (ms), peak_rss_mb.
'use strict';
const fs = require('fs');
const t0 = process.hrtime.bigint();
const ort = require('onnxruntime-node');
const ms = (a, b) => Number(b - a) / 1e6;

function readNpyF32(path) {
  const buf = fs.readFileSync(path);
  const hlen = buf.readUInt16LE(8);
  const header = buf.toString('latin1', 10, 10 + hlen);
  if (!header.includes("'<f4'")) throw new Error(`${path}: not float32`);
  const shape = header.match(/\(([^)]*)\)/)[1].split(',').filter((s) => s.trim()).map(Number);
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset + 10 + hlen, buf.byteOffset + buf.length));
  return { shape, data };
}

function writeNpyF32(path, data, shape) {
  let h = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  while ((10 + h.length + 1) % 64) h += ' ';
  h += '\n';
  const head = Buffer.alloc(10);
  head.write('\x93NUMPY', 0, 'latin1');
  head[6] = 1; head[7] = 0; head.writeUInt16LE(h.length, 8);
  fs.writeFileSync(path, Buffer.concat([head, Buffer.from(h, 'latin1'), Buffer.from(data.buffer)]));
}

async function main() {
  const [model, input, threads, runs, warmup, out] = process.argv.slice(2);
  const tImport = process.hrtime.bigint();
  const sess = await ort.InferenceSession.create(model, {
    intraOpNumThreads: Number(threads), interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
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
    load_ms: ms(tImport, tLoad), import_ms: ms(t0, tImport), first_ms: first, lat,
    peak_rss_mb: process.resourceUsage().maxRSS / 1024,
  }));
}

main().catch((e) => { console.error(`ort_bench: ${e.message}`); process.exit(1); });
