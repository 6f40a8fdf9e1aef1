#!/usr/bin/env node
/* A small static server for the demo (make web builds build/web/site):
 *   node examples/web/serve.js [--port N] [--root DIR] [--no-isolation]
 * By default every response carries the COOP / COEP headers that make the
 * page cross-origin isolated, so SharedArrayBuffer exists and the package
 * loads its threaded build; --no-isolation leaves them off (the single-
 * threaded build).  --port 0 picks a free port.  Prints one line:
 *   serving DIR at http://127.0.0.1:PORT/ (threaded|single-threaded)
 * Node's standard library only; files outside the root are never served. */
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = { port: 8080, root: path.join(here, '..', '..', 'build', 'web', 'site'), isolate: true,
  host: '127.0.0.1' };
for (let i = 0; i < args.length; i++) {
  const a = args[i];
  if (a === '--port') opt.port = Number(args[++i]);
  else if (a === '--root') opt.root = args[++i];
  else if (a === '--host') opt.host = args[++i];
  else if (a === '--no-isolation') opt.isolate = false;
  else {
    console.error(`serve.js: unknown option '${a}' (--port N, --root DIR, --host H, --no-isolation)`);
    process.exit(2);
  }
}
if (!Number.isInteger(opt.port) || opt.port < 0 || opt.port > 65535) {
  console.error('serve.js: --port needs a number 0..65535');
  process.exit(2);
}
const root = path.resolve(opt.root);
if (!fs.existsSync(path.join(root, 'index.html'))) {
  console.error(`serve.js: ${root}/index.html is missing (run make web)`);
  process.exit(1);
}

const TYPES = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8', '.json': 'application/json', '.wasm': 'application/wasm',
  '.jpg': 'image/jpeg', '.png': 'image/png', '.ts': 'text/plain; charset=utf-8',
  '.md': 'text/plain; charset=utf-8',
};

function headers(type, size) {
  const h = { 'Content-Type': type, 'Content-Length': size, 'Cache-Control': 'no-store',
    'Cross-Origin-Resource-Policy': 'same-origin', 'X-Content-Type-Options': 'nosniff' };
  if (opt.isolate) {
    h['Cross-Origin-Opener-Policy'] = 'same-origin';
    h['Cross-Origin-Embedder-Policy'] = 'require-corp';
  }
  return h;
}

function send(res, code, text) {
  res.writeHead(code, headers('text/plain; charset=utf-8', Buffer.byteLength(text)));
  res.end(text);
}

const server = http.createServer((req, res) => {
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'GET only\n');
  let rel;
  try {
    rel = decodeURIComponent(new URL(req.url, 'http://x').pathname);
  } catch {
    return send(res, 400, 'bad path\n');
  }
  if (rel.endsWith('/')) rel += 'index.html';
  const file = path.resolve(root, '.' + rel);
  if (file !== root && !file.startsWith(root + path.sep)) return send(res, 403, 'outside the root\n');
  fs.stat(file, (err, st) => {
    if (err || !st.isFile()) return send(res, 404, 'not found\n');
    const type = TYPES[path.extname(file)] || 'application/octet-stream';
    res.writeHead(200, headers(type, st.size));
    if (req.method === 'HEAD') return res.end();
    fs.createReadStream(file).pipe(res);
  });
});
server.listen(opt.port, opt.host, () => {
  const { port } = server.address();
  console.log(`serving ${root} at http://${opt.host}:${port}/ (${opt.isolate ? 'threaded' : 'single-threaded'})`);
});
