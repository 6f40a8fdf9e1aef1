/* The demo page: the camera, the stable label with its confidence, results
 * per second and latency; gallery entries from the current frame, zero-shot
 * labels, a model file of the user's.  Without one it loads the synthetic
 * model make web put beside it, says so, and seeds the gallery with the
 * three sample photos so the labels mean something.
 * window.pecoreDemo is what tests/web/run.js drives and reads. */
import { Pecore } from './pecore/index.js';

const SYNTHETIC = 'models/synthetic-pe-core-t16-384.safetensors';
const SAMPLES = [['astronaut', 'photos/astronaut.jpg'], ['cat', 'photos/chelsea.jpg'],
  ['coffee', 'photos/coffee.jpg']];
const $ = (id) => document.getElementById(id);
const video = $('video');
const gallery = new Map();   // label -> entries
let pe = null, live = null, ready = null;
let cameraNote = '', modelNote = '';

const demo = window.pecoreDemo = {
  // performance.now() marks (ms after navigation): the model loaded, the
  // gallery seeded (ready), the first live result.
  results: 0, firstResultMs: null, modelLoadedMs: null, modelReadyMs: null, last: null, errors: [],
  get pe() { return pe; },
  whenReady: () => ready,
  addSample, clearGallery, galleryLabels: () => [...gallery.keys()], clearError: () => show('error', ''),
};

function show(id, text) {
  $(id).textContent = text;
  $(id).classList.toggle('hidden', !text);
}

function showNotes() {
  show('notice', [cameraNote, modelNote].filter(Boolean).join(' '));
}

function showError(e) {
  const msg = e && e.message ? e.message : String(e);
  demo.errors.push(msg);
  show('error', msg);
}

function renderGallery() {
  const ul = $('gallery');
  ul.replaceChildren(...[...gallery].map(([label, n]) => {
    const li = document.createElement('li');
    li.append(`${label}${n > 1 ? ' ×' + n : ''}`);
    const b = document.createElement('button');
    b.textContent = '×';
    b.title = 'remove ' + label;
    b.onclick = () => pe.removeFromGallery(label).then(() => { gallery.delete(label); renderGallery(); }, showError);
    li.append(b);
    return li;
  }));
}

async function clearGallery() {
  await pe.clearGallery();
  gallery.clear();
  renderGallery();
}

async function addEntry(label, image, source) {
  await pe.addToGallery(label, image, source);
  gallery.set(label, (gallery.get(label) || 0) + 1);
  renderGallery();
}

/* A gallery entry from a photo beside the page. */
async function addSample(label, url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  const bitmap = await createImageBitmap(await r.blob());
  try { await addEntry(label, bitmap, url); } finally { bitmap.close(); }
}

function onResult(r) {
  demo.results++;
  demo.last = r;
  if (demo.firstResultMs === null) demo.firstResultMs = performance.now();
  $('label').textContent = r.stable ?? (r.top.length ? 'unknown' : 'add a gallery entry');
  $('confidence').textContent = r.stable ? `${Math.round(r.stableScore * 100)}% (smoothed)` : '';
  $('fps').textContent = `${r.resultsPerSecond.toFixed(1)} results/s`;
  $('latency').textContent = `${Math.round(r.latencyMs)} ms`;
  $('dropped').textContent = `${r.dropped} dropped`;
}

async function startCamera() {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({
      video: { facingMode: 'environment', width: { ideal: 640 }, height: { ideal: 480 } }, audio: false });
    await video.play();
    $('camera').classList.add('hidden');
    cameraNote = '';
    showNotes();
    return true;
  } catch (e) {
    cameraNote = `No camera (${e.name || e}): allow it and press Start camera.`;
    showNotes();
    $('camera').classList.remove('hidden');
    return false;
  }
}

function startLive() {
  if (live) live.stop();
  // k = 1: the nearest entry's label, as scripts/demo.sh streams (with
  // one entry per label, more neighbours only blur the vote).
  live = pe.live(video, { onResult, onError: showError, k: 1 });
}

/* Input size: ?size=N, else the model's own; the synthetic model runs at
 * 224 (a third of the work of its native 384) since its labels come from
 * the gallery anyway. */
function inputSize(synthetic) {
  const n = Number(new URLSearchParams(location.search).get('size'));
  return n > 0 ? n : synthetic ? 224 : 0;
}

async function loadModel(source, synthetic) {
  $('progress').classList.remove('hidden');
  const info = await pe.loadModel(source, { size: inputSize(synthetic),
    onProgress: (loaded, total) => { $('progress').value = total ? loaded / total : 0; } });
  $('progress').classList.add('hidden');
  demo.modelLoadedMs = performance.now();
  gallery.clear();
  renderGallery();
  $('build').textContent = `${info.threaded ? `threaded ×${info.threads}` : 'single-threaded'} · ${info.isa}`;
  $('model').textContent = `${info.arch} (${info.family}), ${info.dim}-d embeddings at ${info.inputSize}px, ` +
    `${(info.fileBytes / 1e6).toFixed(1)} MB${info.hasText ? ', text tower' : ''}`;
  // The synthetic model is vision-only: a synthetic text tower would make
  // the download 96 MB at q8 (24.6 MB now) for labels that mean nothing.
  show('zeroshot-note', info.hasText ? '' : 'This model has no text tower: zero-shot labels need a ' +
    'PE Core file with its text tower (and vocabulary).');
  modelNote = synthetic ? 'Synthetic model: seeded random weights, no meaning of their own. ' +
    'The labels come from the gallery (seeded with the three sample photos); choose a real ' +
    'model file for zero-shot labels.' : '';
  showNotes();
  if (synthetic) for (const [label, url] of SAMPLES) await addSample(label, url);
  return info;
}

async function main() {
  $('camera').onclick = () => startCamera();
  const camera = startCamera();
  pe = await Pecore.create();
  ready = loadModel(SYNTHETIC, true);
  await ready;
  demo.modelReadyMs = performance.now();
  await camera;
  startLive();
  $('model-file').onchange = async (e) => {
    const file = e.target.files[0];
    if (!file) return;
    show('error', '');
    try { await loadModel(file, false); startLive(); } catch (err) { $('progress').classList.add('hidden'); showError(err); }
  };
  $('gallery-form').onsubmit = async (e) => {
    e.preventDefault();
    const label = $('gallery-label').value.trim();
    if (!label) return;
    try { await addEntry(label, video, 'camera'); $('gallery-label').value = ''; } catch (err) { showError(err); }
  };
  $('zeroshot-form').onsubmit = async (e) => {
    e.preventDefault();
    const labels = $('zeroshot-labels').value.split(',').map((s) => s.trim()).filter(Boolean);
    show('error', '');
    try {
      if (labels.length) await pe.setZeroShotLabels(labels);
      else await pe.clearPrototypes();
    } catch (err) { showError(err); }
  };
}

main().catch(showError);
