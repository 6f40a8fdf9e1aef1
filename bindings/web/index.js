/* pecore in the browser: an ES module over the library built to
 * WebAssembly.  Every model call runs in a Worker (worker.js), so the page
 * never blocks; calls return promises, and a failure rejects with a
 * PecoreError carrying the library's one-line message.
 *
 *   import { Pecore } from './pecore/index.js';
 *   const pe = await Pecore.create();
 *   await pe.loadModel('models/pe-core-t16-384.safetensors', { onProgress });
 *   await pe.addToGallery('cat', catBitmap);
 *   const live = pe.live(videoElement, { onResult: (r) => show(r.stable) });
 *
 * Types and the full contract: index.d.ts. */

export class PecoreError extends Error {
  constructor(message) {
    super(message);
    this.name = 'PecoreError';
  }
}

function isZeroSized(img) {
  const w = img.displayWidth ?? img.videoWidth ?? img.naturalWidth ?? img.width;
  const h = img.displayHeight ?? img.videoHeight ?? img.naturalHeight ?? img.height;
  return !(w > 0 && h > 0);
}

/* What the worker can take: ImageData's fields are copied, a VideoFrame is
 * cloned and transferred, anything else drawable (ImageBitmap, canvas,
 * OffscreenCanvas, <img>, <video>, Blob) becomes a new ImageBitmap that is
 * transferred.  The caller keeps what it passed.  A zero-sized image goes
 * as empty pixels, so the library says what is wrong with it. */
async function transferable(img) {
  if (!img) throw new PecoreError('no image given');
  if (typeof ImageData !== 'undefined' && img instanceof ImageData)
    return { image: { data: img.data, width: img.width, height: img.height }, transfer: [] };
  if (img.data !== undefined && img.width !== undefined)   // {data, width, height}
    return { image: { data: img.data, width: img.width | 0, height: img.height | 0 }, transfer: [] };
  if (!(img instanceof Blob) && isZeroSized(img))
    return { image: { data: new Uint8ClampedArray(0), width: 0, height: 0 }, transfer: [] };
  if (typeof VideoFrame !== 'undefined' && img instanceof VideoFrame) {
    const f = img.clone();
    return { image: f, transfer: [f] };
  }
  const b = await createImageBitmap(img);
  return { image: b, transfer: [b] };
}

export class Pecore {
  /* Starts the worker.  workerUrl: where worker.js is (default: beside
   * this module); the builds are in dist/ beside it. */
  static async create({ workerUrl } = {}) {
    const p = new Pecore(new Worker(workerUrl || new URL('./worker.js', import.meta.url)));
    p.memory();  // starts the WebAssembly module while the page goes on
    return p;
  }

  constructor(worker) {
    this._worker = worker;
    this._next = 1;
    this._calls = new Map();
    this.info = null;
    worker.onmessage = (e) => this._reply(e.data);
    worker.onerror = (e) => {
      const err = new PecoreError('pecore worker: ' + (e.message || 'failed to start'));
      for (const c of this._calls.values()) c.reject(err);
      this._calls.clear();
    };
  }

  _reply({ id, result, error, progress }) {
    const c = this._calls.get(id);
    if (!c) return;
    if (progress) { if (c.onProgress) c.onProgress(progress.loaded, progress.total); return; }
    this._calls.delete(id);
    if (error !== undefined) c.reject(new PecoreError(error));
    else c.resolve(result);
  }

  _call(op, args, transfer = [], onProgress = null) {
    return new Promise((resolve, reject) => {
      const id = this._next++;
      this._calls.set(id, { resolve, reject, onProgress });
      this._worker.postMessage({ id, op, args }, transfer);
    });
  }

  async _withImage(op, img, args = {}) {
    const { image, transfer } = await transferable(img);
    return this._call(op, Object.assign({ image }, args), transfer);
  }

  /* Loads a model from a URL (fetched and streamed), an ArrayBuffer, a
   * typed array or a Blob / File.  sha256: the expected checksum (checked
   * before the file is parsed); family: "PE", "DINOv2" or "Franca" to
   * refuse any other; threads (threaded build only; 0: up to 4); size: the
   * input size in pixels (0: the model's own).  Resolves to ModelInfo. */
  async loadModel(source, { sha256 = '', family = '', threads = 0, size = 0, onProgress = null } = {}) {
    // The worker fetches: a relative URL means the page's, not worker.js's.
    if (source instanceof URL) source = source.href;
    else if (typeof source === 'string') source = new URL(source, globalThis.document?.baseURI ?? location.href).href;
    // An ArrayBuffer is copied, not transferred: the caller keeps it.
    this.info = await this._call('loadModel', { source, sha256, family, threads, size }, [], onProgress);
    return this.info;
  }

  /* The image's embedding (Float32Array of info.dim, not normalised). */
  embed(image) { return this._withImage('embed', image); }
  /* Adds the image's embedding to the gallery as label; resolves to the
   * number of entries. */
  addToGallery(label, image, source = '') { return this._withImage('galleryAdd', image, { label, source }); }
  removeFromGallery(label) { return this._call('galleryRemove', { label }); }
  clearGallery() { return this._call('galleryClear'); }
  /* A prototype class from an embedding (e.g. the mean of a few embed()
   * results); prototypes, when there are any, are used instead of the
   * gallery.  threshold: the cosine below which it is unknown (-1: none). */
  addPrototype(label, embedding, threshold = -1) {
    return this._call('prototypeAdd', { label, embedding: Array.from(embedding), threshold });
  }
  clearPrototypes() { return this._call('prototypesClear'); }
  /* Zero-shot classes from text labels (the text tower and the tokenizer
   * stored in the model file); replaces the prototypes. */
  setZeroShotLabels(labels) { return this._call('zeroShot', { labels: Array.from(labels, String) }); }
  /* Scores of one image: {top: [{label, score}]}, best first. */
  classify(image, { k = 5 } = {}) { return this._withImage('classify', image, { k }); }
  /* Size of the WebAssembly memory and which build runs. */
  memory() { return this._call('memory'); }

  /* Labels a <video> as it plays (see LiveSession). */
  live(video, options = {}) { return new LiveSession(this, video, options).start(); }

  terminate() {
    this._worker.terminate();
    for (const c of this._calls.values()) c.reject(new PecoreError('pecore: terminated'));
    this._calls.clear();
  }
}

/* Labels a playing <video>: each new video frame becomes an ImageBitmap;
 * while the worker is busy only the newest waits (older ones are dropped
 * and counted), so results never lag behind the camera.  The worker embeds,
 * classifies and smooths (the library's smoother: the stable label changes
 * only when another leads for a while).  onResult gets
 *   {top, stable, stableScore, changed, sceneCut, latencyMs, computeMs,
 *    resultsPerSecond, dropped, processed}
 * latencyMs: from the frame's capture on the page to its result. */
export class LiveSession {
  constructor(pecore, video, { onResult = () => {}, onError = (e) => console.error(e), k = 5 } = {}) {
    Object.assign(this, { pecore, video, onResult, onError, k });
    this.running = false;
    this.busy = false;
    this.pending = null;
    this.dropped = 0;
    this.processed = 0;
    this._times = [];
    this._tick = this._tick.bind(this);
  }

  start() {
    if (this.running) return this;
    this.running = true;
    this.pecore._call('resetSmoothing').catch(() => {});
    this._schedule();
    return this;
  }

  stop() {
    this.running = false;
    if (this.pending) { this.pending.image.close(); this.pending = null; }
  }

  stats() {
    return { processed: this.processed, dropped: this.dropped, resultsPerSecond: this._rate() };
  }

  _schedule() {
    if (!this.running) return;
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback(this._tick);
    else requestAnimationFrame(this._tick);
  }

  async _tick() {
    this._schedule();
    const v = this.video;
    if (!v.videoWidth || v.readyState < 2) return;
    // A VideoFrame where there is one: the worker hands its planes to the
    // library, and (Chromium) an ImageBitmap of a <video> per frame grows
    // the renderer's memory by its pixels each time, close() or not.
    let image;
    try {
      image = typeof VideoFrame === 'function' ? new VideoFrame(v) : await createImageBitmap(v);
    } catch (e) {
      return;  // between frames
    }
    const frame = { image, t: performance.now() };
    if (!this.running) { image.close(); return; }
    if (this.busy) {
      if (this.pending) { this.pending.image.close(); this.dropped++; }
      this.pending = frame;
      return;
    }
    this._send(frame);
  }

  _rate() {
    const now = performance.now();
    while (this._times.length && now - this._times[0] > 2000) this._times.shift();
    return this._times.length / 2;
  }

  async _send(frame) {
    this.busy = true;
    try {
      const r = await this.pecore._call('frame', { image: frame.image, k: this.k, t: frame.t }, [frame.image]);
      this.processed++;
      this._times.push(performance.now());
      if (this.running)
        this.onResult(Object.assign(r, { latencyMs: performance.now() - frame.t, dropped: this.dropped,
          processed: this.processed, resultsPerSecond: this._rate() }));
    } catch (e) {
      if (this.running) this.onError(e);
    }
    this.busy = false;
    const next = this.pending;
    this.pending = null;
    if (next && this.running) this._send(next);
  }
}
