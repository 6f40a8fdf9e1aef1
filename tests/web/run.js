/* make test-web: the browser binding in Debian's chromium, headless, with a
 * fake camera playing tests/web's clip of the three sample photos (4 s
 * each, looping).  For each build, threaded (page served with COOP/COEP)
 * and single-threaded (without):
 *   - the page loads the synthetic model and gives a first result; the time
 *     from navigation to it is printed (bench/RESULTS.md's number);
 *   - gallery entries from the three photos through the page's API, then
 *     for WATCH_S seconds the stable label must follow the scenes in order,
 *     while the page's JS heap, the WebAssembly memory and the RSS of every
 *     chromium process stay flat (bounded growth);
 *   - bad input rejects with the library's message: a truncated model,
 *     garbage bytes, a wrong checksum, another family's model, a zero-sized
 *     frame, an embedding of the wrong size, zero-shot labels on the
 *     vision-only model; the live labels go on after;
 *   - zero-shot labels on a model with a text tower (pe-micro and its
 *     vocabulary) classify a photo: one score per label, summing to 1;
 *   - at 360 and 412 px wide nothing runs past the screen's edge and every
 *     placeholder fits its field;
 *   - nothing in the console is an error; screenshots are kept in OUT.
 * Then `npm pack --dry-run` of the package must list its files.
 * usage: node tests/web/run.js SITE_DIR CLIP.y4m OUT_DIR   (tests/web/run.sh) */
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import puppeteer from 'puppeteer-core';

const here = path.dirname(fileURLToPath(import.meta.url));
const [SITE, CLIP, OUT] = process.argv.slice(2).map((p) => path.resolve(p));  // chromium wants absolute paths
const WATCH_S = Number(process.env.WEB_WATCH_S || 60);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const SCENES = ['astronaut', 'cat', 'coffee'];      // the clip's order
const PHOTOS = { astronaut: 'photos/astronaut.jpg', cat: 'photos/chelsea.jpg', coffee: 'photos/coffee.jpg' };
let failures = 0, passes = 0;
const numbers = {};

function check(ok, what, detail = '') {
  if (ok) passes++;
  else { failures++; console.log(`FAIL ${what}${detail ? ': ' + detail : ''}`); }
  return ok;
}

function serve(isolate) {
  const args = [path.join(here, '../../examples/web/serve.js'), '--port', '0', '--root', SITE];
  if (!isolate) args.push('--no-isolation');
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    child.stdout.once('data', (d) => {
      const m = /at (http:\S+)/.exec(String(d));
      m ? resolve({ child, url: m[1] }) : reject(new Error('serve.js said: ' + d));
    });
    child.once('exit', (c) => reject(new Error('serve.js exited ' + c)));
  });
}

/* RSS of the browser and every process under it, in MB (Linux /proc). */
function chromiumRssMb(pid) {
  const kids = new Map();
  for (const d of fs.readdirSync('/proc').filter((x) => /^\d+$/.test(x))) {
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (!kids.has(ppid)) kids.set(ppid, []);
      kids.get(ppid).push(Number(d));
    } catch { /* gone */ }
  }
  let kb = 0;
  for (const todo = [pid]; todo.length;) {
    const p = todo.pop();
    try { kb += Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${p}/status`, 'utf8'))[1]); } catch { /* gone */ }
    todo.push(...(kids.get(p) || []));
  }
  return kb / 1024;
}

const median = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];

/* The collapsed sequence of stable labels must visit every scene and only
 * ever step to the next scene of the clip. */
function followsScenes(seq) {
  const known = seq.filter((l) => l !== null);
  let good = 0, bad = [];
  for (let i = 1; i < known.length; i++) {
    const want = SCENES[(SCENES.indexOf(known[i - 1]) + 1) % SCENES.length];
    if (known[i] === want) good++;
    else bad.push(`${known[i - 1]}->${known[i]}`);
  }
  return { good, bad, all: SCENES.every((s) => known.includes(s)) };
}

/* The same pixels as a canvas, ImageData, ImageBitmap and VideoFrame (the
 * last through copyTo and the library's own frame path when its format
 * allows) give the same embedding. */
async function inputKinds(page, mode) {
  const r = await page.evaluate(async () => {
    const pe = window.pecoreDemo.pe;
    const bmp = await createImageBitmap(await (await fetch('photos/coffee.jpg')).blob());
    const c = new OffscreenCanvas(bmp.width, bmp.height);
    const g = c.getContext('2d');
    g.drawImage(bmp, 0, 0);
    const frame = new VideoFrame(c, { timestamp: 0 });
    const kinds = { canvas: c, imageData: g.getImageData(0, 0, c.width, c.height), bitmap: bmp, videoFrame: frame };
    const embs = {};
    for (const [k, v] of Object.entries(kinds)) embs[k] = await pe.embed(v);
    const format = frame.format;
    frame.close();
    bmp.close();
    const cos = (a, b) => {
      let ab = 0, aa = 0, bb = 0;
      for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
      return ab / Math.sqrt(aa * bb);
    };
    const out = { format, dim: embs.canvas.length };
    for (const k of Object.keys(kinds)) out[k] = cos(embs.canvas, embs[k]);
    return out;
  });
  console.log(`  ${mode}: cosine to the canvas's embedding: ${JSON.stringify(r)}`);
  check(r.dim > 0 && ['imageData', 'bitmap', 'videoFrame'].every((k) => r[k] > 0.9999),
    `${mode}: canvas, ImageData, ImageBitmap and VideoFrame embed alike`, JSON.stringify(r));
}

async function errorPaths(page, mode) {
  const r = await page.evaluate(async (photos) => {
    const pe = window.pecoreDemo.pe;
    const out = {};
    const reject = async (name, f) => {
      try { await f(); out[name] = { resolved: true }; } catch (e) { out[name] = { name: e.name, message: e.message }; }
    };
    const model = await (await fetch('models/synthetic-pe-core-t16-384.safetensors')).arrayBuffer();
    await reject('truncated', () => pe.loadModel(model.slice(0, model.byteLength >> 1)));
    const junk = new Uint8Array(65536);
    for (let i = 0; i < junk.length; i++) junk[i] = (i * 2654435761) >>> 24;
    await reject('garbage', () => pe.loadModel(junk.buffer));
    await reject('checksum', () => pe.loadModel(model, { sha256: '0'.repeat(64) }));
    await reject('family', () => pe.loadModel(model, { family: 'DINOv2' }));
    await reject('zeroFrame', () => pe.embed(new OffscreenCanvas(0, 0)));
    await reject('zeroImageData', () => pe.embed({ data: new Uint8ClampedArray(0), width: 0, height: 0 }));
    await reject('wrongDim', () => pe.addPrototype('x', new Float32Array(7)));
    await reject('zeroShot', () => pe.setZeroShotLabels(['cat', 'coffee']));
    // A model with a text tower and its vocabulary (run.sh writes it from the
    // golden pe-micro): zero-shot labels through the tokenizer's Unicode
    // tables, then an image classified against them.
    const textModel = await (await fetch('models/test-pe-micro-text.safetensors')).arrayBuffer();
    try {
      const ti = await pe.loadModel(textModel, { threads: 1 });
      const labels = ['a photo of a cat', 'a Café au lait ☕', 'ｆｕｌｌ－ｗｉｄｔｈ ｔｅｘｔ'];
      await pe.setZeroShotLabels(labels);
      const bmp = await createImageBitmap(await (await fetch(photos.cat)).blob());
      const c = await pe.classify(bmp, { k: 3 });
      bmp.close();
      out.zeroShotText = { hasText: ti.hasText, top: c.top, labels };
    } catch (e) { out.zeroShotText = { error: `${e.name}: ${e.message}` }; }
    // Loading the same model again replaces the one in use (the threaded
    // build's fixed pool of workers passes from one to the other), then
    // too many threads is refused (and that drops the model in use).
    const info = await pe.loadModel(model, { size: pe.info.inputSize });
    out.reload = { resolved: info.arch === pe.info.arch ? 'ok' : 'wrong' };
    await reject('threads', () => pe.loadModel(model, { threads: 8 }));
    await reject('afterThreads', () => pe.embed(new ImageData(4, 4)));
    await pe.loadModel(model, { size: pe.info.inputSize });
    await window.pecoreDemo.clearGallery();
    for (const [label, url] of Object.entries(photos)) await window.pecoreDemo.addSample(label, url);
    window.pecoreDemo.clearError();  // live frames while no model was loaded
    return out;
  }, PHOTOS);
  check(r.reload.resolved === 'ok', `${mode}: a second model replaces the first`, JSON.stringify(r.reload));
  delete r.reload;
  const z = r.zeroShotText;
  delete r.zeroShotText;
  const got = (z.top || []).map((t) => t.label).sort();
  const sum = (z.top || []).reduce((a, t) => a + t.score, 0);
  console.log(`  ${mode} zero-shot on a text model: ${JSON.stringify(z)}`);
  check(!z.error && z.hasText === true && JSON.stringify(got) === JSON.stringify([...z.labels].sort()) &&
    Math.abs(sum - 1) < 1e-3 && z.top.every((t) => t.score > 0 && Number.isFinite(t.score)),
    `${mode}: zero-shot labels on a model with a text tower classify an image`, JSON.stringify(z));
  const want = { truncated: /./, garbage: /./, checksum: /checksum|sha-?256/i, family: /PE model.*DINOv2/,
    threads: /thread/i, afterThreads: /no model loaded/, zeroFrame: /0|width|height|empty|size/i, zeroImageData: /0|width|height|size/i, wrongDim: /7|dim|size/i,
    zeroShot: /no text tower/ };
  for (const [k, re] of Object.entries(want)) {
    const e = r[k];
    console.log(`  ${mode} ${k}: ${e.resolved ? 'RESOLVED' : `${e.name}: ${e.message}`}`);
    check(!e.resolved && e.name === 'PecoreError' && re.test(e.message) && !/\n/.test(e.message),
      `${mode}: ${k} rejects with the library's one-line message`, JSON.stringify(e));
  }
}

/* The demo at phone widths (360 to 412 px): no sideways scrolling, every
 * text field's placeholder whole inside it (measured in the field's own
 * font), every button on the screen; a screenshot at 360 px too. */
async function phoneLayout(page, mode) {
  for (const width of [360, 412]) {
    await page.setViewport({ width, height: 915 });
    const r = await page.evaluate(async () => {
      await new Promise((f) => requestAnimationFrame(() => requestAnimationFrame(f)));
      const g = document.createElement('canvas').getContext('2d');
      const clipped = [];
      for (const el of document.querySelectorAll('input[placeholder]')) {
        const cs = getComputedStyle(el);
        g.font = cs.font;
        const need = g.measureText(el.placeholder).width;
        const room = el.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight);
        if (need > room) clipped.push(`${el.id}: ${need.toFixed(0)} px of text in ${room.toFixed(0)}`);
      }
      const off = [...document.querySelectorAll('button:not(.hidden), .file')]
        .filter((b) => b.offsetParent && b.getBoundingClientRect().right > innerWidth)
        .map((b) => b.textContent);
      return { clipped, off, scroll: document.documentElement.scrollWidth, inner: innerWidth };
    });
    check(r.clipped.length === 0, `${mode}: placeholders fit at ${width} px`, r.clipped.join('; '));
    check(r.off.length === 0 && r.scroll <= r.inner, `${mode}: nothing past the edge at ${width} px`,
      JSON.stringify(r));
    if (width === 360) await page.screenshot({ path: path.join(OUT, `screenshot-${mode}-360.png`) });
  }
}

async function runMode(browser, mode) {
  const threaded = mode === 'threaded';
  const { child, url } = await serve(threaded);
  const page = await browser.newPage();
  const consoleErrors = [];
  page.on('console', (m) => {
    const text = `${m.text()} (${m.location().url || 'page'})`;
    if (process.env.WEB_DEBUG) console.log(`  [${m.type()}] ${text}`);
    if (m.type() === 'error') consoleErrors.push(text);
  });
  page.on('pageerror', (e) => consoleErrors.push('pageerror: ' + e.message));
  // Any failed request is an error but one: Chromium (156, headless) now
  // and then reports the worker's fetch of a model file as net::ERR_ABORTED
  // at the instant its last byte arrives, though the worker reads the whole
  // body and Blink records the request as finished (its resource timing
  // entry appears ~200 ms later; tests/web/probe_abort.mjs shows both), seen
  // in 1-2 of 9 page loads of either build.  A model request from a worker
  // (no frame) that had its 200 response is logged; the load it served is
  // checked on its own.
  page.on('requestfailed', (q) => {
    const what = `request failed: ${q.url()} (${q.failure()?.errorText})`;
    const reported = q.failure()?.errorText === 'net::ERR_ABORTED' && !q.frame() &&
      q.response()?.status() === 200 && /\/models\/[^/]+\.safetensors$/.test(q.url());
    if (reported) console.log(`  note: ${what}, response 200, from the worker`);
    else consoleErrors.push(what);
  });
  await page.setViewport({ width: 412, height: 915 });  // a phone's screen
  try {
    await page.goto(url, { waitUntil: 'load' });
    await page.waitForFunction(() => window.pecoreDemo &&
      (window.pecoreDemo.firstResultMs !== null || window.pecoreDemo.errors.length), { timeout: 120000, polling: 50 })
      .catch(async (e) => {
        throw new Error(e.message + ': ' + await page.evaluate(() => JSON.stringify(window.pecoreDemo) + ' ' +
          document.getElementById('notice').textContent + ' video ' + document.getElementById('video').videoWidth));
      });
    const early = await page.evaluate(() => pecoreDemo.errors);
    if (early.length) throw new Error('the page failed: ' + early.join(' | '));
    const t = await page.evaluate(() => ({ loaded: pecoreDemo.modelLoadedMs, ready: pecoreDemo.modelReadyMs,
      first: pecoreDemo.firstResultMs, info: pecoreDemo.pe.info, isolated: self.crossOriginIsolated }));
    numbers[mode] = { modelLoadedMs: Math.round(t.loaded), galleryReadyMs: Math.round(t.ready),
      firstResultMs: Math.round(t.first), threads: t.info.threads, isa: t.info.isa, inputSize: t.info.inputSize };
    console.log(`  ${mode}: model loaded ${t.loaded.toFixed(0)} ms, gallery of 3 seeded ${t.ready.toFixed(0)} ms, ` +
      `first result ${t.first.toFixed(0)} ms after ` +
      `navigation (${t.info.arch}, ${t.info.threads} thread(s), ${t.info.isa}, isolated ${t.isolated})`);
    check(t.info.threaded === threaded && t.isolated === threaded, `${mode}: the ${mode} build runs`);
    // The test's own gallery, from the photos, through the page's API.
    const labels = await page.evaluate(async (photos) => {
      await pecoreDemo.clearGallery();
      for (const [label, url] of Object.entries(photos)) await pecoreDemo.addSample(label, url);
      return pecoreDemo.galleryLabels();
    }, PHOTOS);
    check(SCENES.every((s) => labels.includes(s)), `${mode}: gallery entries added`, labels.join(','));
    await watch(page, browser, mode);
    await inputKinds(page, mode);
    await errorPaths(page, mode);
    const before = await page.evaluate(() => pecoreDemo.results);
    await new Promise((r) => setTimeout(r, 3000));
    const after = await page.evaluate(() => pecoreDemo.results);
    check(after > before, `${mode}: live results go on after the errors`, `${before} -> ${after}`);
    await phoneLayout(page, mode);  // leaves the viewport at 412 px
    await page.screenshot({ path: path.join(OUT, `screenshot-${mode}.png`) });
  } finally {
    check(consoleErrors.length === 0, `${mode}: no console errors`, consoleErrors.join(' | '));
    await page.close();
    child.kill();
  }
}

async function watch(page, browser, mode) {
  const seq = [], mem = [];
  const t0 = Date.now();
  let nextSample = t0;
  const r0 = await page.evaluate(() => pecoreDemo.results);
  while (Date.now() - t0 < WATCH_S * 1000) {
    const s = await page.evaluate(() => pecoreDemo.last && pecoreDemo.last.stable);
    if (seq[seq.length - 1] !== s) seq.push(s);
    if (Date.now() >= nextSample) {
      nextSample += WATCH_S * 1000 / 12;
      const m = await page.evaluate(async () => {
        if (window.gc) window.gc();
        return { heap: performance.memory.usedJSHeapSize / 1048576,
          wasm: (await pecoreDemo.pe.memory()).wasmBytes / 1048576 };
      });
      m.rss = chromiumRssMb(browser.process().pid);
      m.t = (Date.now() - t0) / 1000;
      mem.push(m);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const st = await page.evaluate(() => pecoreDemo.last);
  const n = (await page.evaluate(() => pecoreDemo.results)) - r0;
  numbers[mode].resultsPerSecond = +(n / WATCH_S).toFixed(2);
  numbers[mode].latencyMs = Math.round(st.latencyMs);
  numbers[mode].dropped = st.dropped;
  console.log(`  ${mode}: ${n} results in ${WATCH_S} s (${(n / WATCH_S).toFixed(2)}/s), last latency ` +
    `${st.latencyMs.toFixed(0)} ms, ${st.dropped} dropped`);
  console.log(`  ${mode}: labels ${seq.map(String).join(' > ')}`);
  const f = followsScenes(seq);
  check(f.all && f.good >= 3 && f.bad.length === 0, `${mode}: the labels follow the scenes`,
    `${f.good} right steps, wrong: ${f.bad.join(' ')}`);
  // Flat: after a warm-up third, the last samples may not exceed the first
  // by more than a few frames' worth (a leaked 320x240 RGBA frame per result
  // would add ~0.3 MB per result, hundreds of MB here).
  const warm = mem.filter((m) => m.t >= WATCH_S / 3);
  const a = warm.slice(0, 3), b = warm.slice(-3);
  const grow = (k) => median(b.map((m) => m[k])) - median(a.map((m) => m[k]));
  console.log(`  ${mode}: memory (MB) ` + mem.map((m) => `${m.t.toFixed(0)}s heap ${m.heap.toFixed(1)} ` +
    `wasm ${m.wasm.toFixed(0)} rss ${m.rss.toFixed(0)}`).join('; '));
  numbers[mode].memoryGrowthMb = { heap: +grow('heap').toFixed(1), wasm: grow('wasm'), rss: Math.round(grow('rss')) };
  check(warm.length >= 6, `${mode}: enough memory samples`, String(warm.length));
  check(grow('wasm') === 0, `${mode}: WebAssembly memory flat`, `${grow('wasm')} MB`);
  check(grow('heap') < 8, `${mode}: page JS heap flat`, `${grow('heap').toFixed(1)} MB`);
  check(grow('rss') < 48, `${mode}: chromium RSS flat`, `${grow('rss').toFixed(0)} MB`);
}

function packCheck() {
  const pkg = path.join(SITE, 'pecore');
  const out = execFileSync('npm', ['pack', '--dry-run', '--json'], { cwd: pkg, encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'] });
  const files = JSON.parse(out)[0].files.map((f) => f.path);
  const need = ['index.js', 'index.d.ts', 'worker.js', 'package.json', 'dist/st/pecore-web.js',
    'dist/st/pecore-web.wasm', 'dist/mt/pecore-web.js', 'dist/mt/pecore-web.wasm', 'dist/mt/pecore-web.worker.js'];
  const missing = need.filter((f) => !files.includes(f));
  check(missing.length === 0, 'npm pack lists the package files', 'missing ' + missing.join(', '));
}

async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  const browser = await puppeteer.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--use-fake-ui-for-media-stream', '--use-fake-device-for-media-stream',
      `--use-file-for-fake-video-capture=${CLIP}`, '--enable-precise-memory-info', '--js-flags=--expose-gc',
      '--autoplay-policy=no-user-gesture-required'],
  });
  try {
    for (const mode of (process.env.WEB_MODES || 'threaded single').split(' ')) {
      console.log(`${mode}:`);
      try { await runMode(browser, mode); } catch (e) { check(false, `${mode}: ran`, e.stack || e.message); }
    }
  } finally {
    await browser.close();
  }
  try { packCheck(); } catch (e) { check(false, 'npm pack --dry-run', e.message); }
  fs.writeFileSync(path.join(OUT, 'numbers.json'), JSON.stringify(numbers, null, 2) + '\n');
  console.log(`test-web: ${passes} passed, ${failures} failed (numbers: ${path.join(OUT, 'numbers.json')})`);
  process.exit(failures ? 1 : 0);
}

main().catch((e) => { console.error(e); process.exit(1); });
