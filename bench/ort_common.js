// What the two ONNX Runtime drivers (ort_bench.js: onnxruntime-node,
// ortweb_bench.js: onnxruntime-web) share: .npy float32 files in and out, and
// the timed runs of a session.
'use strict';
const fs = require('fs');

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

// The input .npy as feed `x`, a first run, then `warmup` untimed and `runs`
// timed ones; the last result's `emb` written to `out` when given.
async function timeRuns(ort, sess, input, runs, warmup, out) {
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
  return { first_ms: first, lat };
}

module.exports = { ms, readNpyF32, writeNpyF32, timeRuns };
