/* pecore's Worker: every model call of the page runs here, so inference
 * never blocks the page.  A classic worker (importScripts), because the
 * emscripten 3.1.6 pthread workers load the module that way too.
 *
 * Messages in:  {id, op, args}                (index.js sends them)
 * Messages out: {id, result} | {id, error} | {id, progress: {loaded, total}}
 * Which build: the threaded one (dist/mt, SharedArrayBuffer) when the page
 * is cross-origin isolated, else the single-threaded one (dist/st). */
'use strict';

const BASE = new URL('./', self.location.href).href;
const THREADED = self.crossOriginIsolated === true && typeof SharedArrayBuffer === 'function';
let M = null;            // the emscripten module
let session = 0;         // pw_session *
let rgbaPtr = 0, rgbaCap = 0;
let canvas = null, ctx2d = null;

async function runtime() {
  if (M) return M;
  const dir = BASE + (THREADED ? 'dist/mt/' : 'dist/st/');
  importScripts(dir + 'pecore-web.js');
  M = await self.createPecoreModule({
    locateFile: (f) => dir + f,
    mainScriptUrlOrBlob: dir + 'pecore-web.js',
    // The library never prints; anything here is the runtime's own.
    print: (s) => console.log('pecore:', s),
    printErr: (s) => console.warn("pecore:", s),
  });
  return M;
}

function fail() {
  throw new Error(M.UTF8ToString(M._pw_error()));
}

/* The whole body of a model file, from a URL (streamed), an ArrayBuffer,
 * a typed array or a Blob / File, reporting progress as it arrives. */
async function readAll(src, progress) {
  if (src instanceof ArrayBuffer) return new Uint8Array(src);
  if (ArrayBuffer.isView(src)) return new Uint8Array(src.buffer, src.byteOffset, src.byteLength);
  let stream, total = 0;
  if (typeof src === 'string') {
    const r = await fetch(src);
    if (!r.ok) throw new Error(`${src}: HTTP ${r.status} ${r.statusText}`);
    total = Number(r.headers.get('content-length')) || 0;
    stream = r.body;
  } else if (src instanceof Blob) {
    total = src.size;
    stream = src.stream();
  } else {
    throw new Error('loadModel: give a URL, an ArrayBuffer, a typed array, a Blob or a File');
  }
  const parts = [];
  let loaded = 0;
  for (const reader = stream.getReader(); ;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.length;
    progress(loaded, total);
  }
  const all = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) { all.set(p, at); at += p.length; }
  return all;
}

function sourceName(src) {
  if (typeof src === 'string') return decodeURIComponent(new URL(src).pathname.split('/').pop() || '');
  return src instanceof File ? src.name : 'model';
}

function freeSession() {
  if (session) M._pw_session_free(session);
  session = 0;
}

async function loadModel({ source, sha256 = '', family = '', threads = 0, size = 0 }, progress) {
  await runtime();
  const bytes = await readAll(source, progress);
  if (bytes.length === 0) throw new Error('the model file is empty');
  // The library maps files: the bytes go through the in-memory file
  // system, and the file is gone again once the model holds them.
  // Named as the source is, since the library's messages start with it.
  const path = '/' + (sourceName(source).replace(/[^\w.+-]/g, '_') || 'model');
  M.FS.writeFile(path, bytes);
  // Up to 4: the threaded build starts 3 pthread workers (make web's
  // WEB_POOL) with the page; more threads than that are refused.
  const n = threads > 0 ? threads : THREADED ? Math.min(navigator.hardwareConcurrency || 1, 4) : 1;
  let s = 0;
  try {
    s = M.ccall('pw_session_create', 'number', ['string', 'string', 'string', 'number', 'number', 'number'],
      [path, sha256 || '', family || '', n, size | 0, session]);
  } finally {
    M.FS.unlink(path);
  }
  // A file that fails to load or check leaves the model in use as it was;
  // one that loaded took its threads, so it goes either way.
  if (!s) {
    const err = M.UTF8ToString(M._pw_error());
    if (session && !M._pw_session_ready(session)) freeSession();
    throw new Error(err);
  }
  freeSession();
  session = s;
  return Object.assign(JSON.parse(M.UTF8ToString(M._pw_info(session))), { threaded: THREADED });
}

function needSession() {
  if (!session) throw new Error('no model loaded: call loadModel first');
}

/* RGBA pixels of what the page sent: {data, width, height} (ImageData's
 * fields) or something drawable (ImageBitmap, VideoFrame), closed after. */
function pixels(img) {
  if (img && img.data !== undefined) return img;
  const w = img.displayWidth ?? img.width, h = img.displayHeight ?? img.height;
  try {
    if (!w || !h) return { data: new Uint8ClampedArray(0), width: w | 0, height: h | 0 };
    if (!canvas || canvas.width !== w || canvas.height !== h) {
      canvas = new OffscreenCanvas(w, h);
      ctx2d = canvas.getContext('2d', { willReadFrequently: true });
    }
    ctx2d.drawImage(img, 0, 0);
    return ctx2d.getImageData(0, 0, w, h);
  } finally {
    if (img.close) img.close();
  }
}

/* The one pixel buffer in the module's heap, grown to len bytes. */
function grow(len, width, height) {
  if (rgbaPtr) M._free(rgbaPtr);
  rgbaPtr = M._malloc(len);
  rgbaCap = rgbaPtr ? len : 0;
  if (!rgbaPtr) throw new Error(`out of memory for a ${width} x ${height} frame`);
}

/* Copies the pixels into the module's heap (one buffer, grown as needed)
 * and embeds them into the session's embedding. */
function embedPixels(img) {
  needSession();
  const { data, width, height } = pixels(img);
  const len = data.length;
  if (len > rgbaCap) grow(len, width, height);
  if (len) M.HEAPU8.set(data, rgbaPtr);
  if (M._pw_embed_rgba(session, rgbaPtr, width, height, width * 4, len)) fail();
}

/* VideoFrame formats the library reads as they are (pe_frame_format). */
const FRAME_FORMAT = { NV12: 0, I420: 2, BGRA: 4, RGBA: 5, BGRX: 6, RGBX: 7 };
let frameBuf = new ArrayBuffer(0);
let layoutPtr = 0;

/* The frame's YUV matrix (pe_yuv_matrix): BT.709 or BT.601, full or
 * limited range, as its colour space says (BT.601 limited when unsaid). */
function yuvMatrix(cs) {
  return (cs && cs.matrix === 'bt709' ? 2 : 0) + (cs && cs.fullRange ? 1 : 0);
}

/* A VideoFrame's own planes go to the library (copyTo: no canvas, no
 * colour conversion in JS); another format is drawn like an image. */
async function embedVideoFrame(f) {
  const format = FRAME_FORMAT[f.format];
  if (format === undefined) return embedPixels(f);
  let layout, len, width, height, yuv;
  try {
    needSession();
    len = f.allocationSize();
    if (frameBuf.byteLength < len) frameBuf = new ArrayBuffer(len);
    layout = await f.copyTo(new Uint8Array(frameBuf, 0, len));
    ({ width, height } = f.visibleRect);
    yuv = yuvMatrix(f.colorSpace);
  } finally {
    f.close();
  }
  needSession();
  if (len > rgbaCap) grow(len, width, height);
  M.HEAPU8.set(new Uint8Array(frameBuf, 0, len), rgbaPtr);
  if (!layoutPtr) layoutPtr = M._malloc(24);
  for (let i = 0; i < 3; i++) {
    M.HEAP32[(layoutPtr >> 2) + i] = layout[i] ? layout[i].offset : 0;
    M.HEAP32[(layoutPtr >> 2) + 3 + i] = layout[i] ? layout[i].stride : 0;
  }
  if (M._pw_embed_frame(session, format, width, height, rgbaPtr, len, layoutPtr, layoutPtr + 12, yuv)) fail();
}

/* Any image the page sent: a VideoFrame's planes go as they are. */
async function embedAny(image) {
  if (typeof VideoFrame === 'function' && image instanceof VideoFrame) await embedVideoFrame(image);
  else embedPixels(image);
}

function embedding() {
  const dim = M._pw_dim(session);
  return M.HEAPF32.slice(M._pw_embedding(session) >> 2, (M._pw_embedding(session) >> 2) + dim);
}

function classify(k, tMs) {
  const p = M.ccall('pw_classify', 'number', ['number', 'number', 'number'], [session, k | 0, tMs]);
  if (!p) fail();
  return JSON.parse(M.UTF8ToString(p));
}

function check(rc) { if (rc) fail(); }

const ops = {
  loadModel,
  async embed({ image }) { await embedAny(image); return embedding(); },
  async galleryAdd({ label, image, source = '' }) {
    await embedAny(image);
    check(M.ccall('pw_gallery_add', 'number', ['number', 'string', 'string'], [session, label, source]));
    return M._pw_gallery_count(session);
  },
  async galleryRemove({ label }) {
    needSession();
    check(M.ccall('pw_gallery_remove', 'number', ['number', 'string'], [session, label]));
    return M._pw_gallery_count(session);
  },
  async galleryClear() { needSession(); check(M._pw_gallery_clear(session)); return 0; },
  async prototypeAdd({ label, embedding: e, threshold = -1 }) {
    needSession();
    const v = Float32Array.from(e);
    const p = M._malloc(v.length * 4 || 4);
    M.HEAPF32.set(v, p >> 2);
    const rc = M.ccall('pw_protos_add', 'number', ['number', 'string', 'number', 'number', 'number'],
      [session, label, p, v.length, threshold]);
    M._free(p);
    check(rc);
    return M._pw_protos_count(session);
  },
  async prototypesClear() { needSession(); check(M._pw_protos_clear(session)); return 0; },
  async zeroShot({ labels }) {
    needSession();
    check(M._pw_protos_clear(session));
    check(M.ccall('pw_protos_add_text', 'number', ['number', 'string'], [session, labels.join('\n')]));
    return M._pw_protos_count(session);
  },
  async classify({ image, k = 5 }) { await embedAny(image); return classify(k, -1); },
  async frame({ image, k = 5, t }) {
    const t0 = performance.now();
    await embedAny(image);
    // Before any class exists a live frame is still embedded (and timed).
    const classes = M._pw_gallery_count(session) + M._pw_protos_count(session);
    const r = classes ? classify(k, t) : { top: [], stable: null, stableScore: 0, changed: false, sceneCut: false };
    return Object.assign(r, { computeMs: performance.now() - t0 });
  },
  async resetSmoothing() { needSession(); M._pw_smooth_reset(session); return 0; },
  async memory() { return { wasmBytes: M ? M.HEAPU8.length : 0, threaded: THREADED }; },
  async close() { if (M) freeSession(); return 0; },
};

self.onmessage = async (e) => {
  const { id, op, args } = e.data;
  try {
    if (!ops[op]) throw new Error('unknown operation ' + op);
    const progress = (loaded, total) => self.postMessage({ id, progress: { loaded, total } });
    const result = await ops[op](args || {}, progress);
    self.postMessage({ id, result });
  } catch (err) {
    self.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
};
