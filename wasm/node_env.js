// --pre-js of make wasm: under node the program sees the process environment
// (PECORE_ISA, PECORE_VOCAB, ...), as the native CLI does; emscripten would
// otherwise start it with a fixed set of its own.
Module['preRun'] = Module['preRun'] || [];
Module['preRun'].push(function () {
  if (typeof ENV !== 'undefined' && typeof process !== 'undefined' && process.env)
    Object.assign(ENV, process.env);
});
