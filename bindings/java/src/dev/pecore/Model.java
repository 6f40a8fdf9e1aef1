package dev.pecore;

/**
 * A loaded model (pe_model): immutable, shared by any number of threads.
 * Encoding happens in an {@link Encoder}: one per thread that encodes.
 * close() frees the weights once the last encoder made from it is closed,
 * so closing the model early never pulls memory from under an encoder.
 */
public final class Model extends Handle {
    /** pe_model_options; the defaults are the zero values. */
    public static final class Options {
        /** Expected SHA-256 (64 hex digits), checked before parsing; null = none. */
        public String sha256;
        /** Heads for files that carry none; 0 = from the file or the known table. */
        public int visionHeads, textHeads, poolHeads;
        /** Leave a CLIP file's text tower unloaded. */
        public boolean visionOnly;
    }

    private boolean closed;
    private int users;
    private ModelInfo info;

    private Model(long ptr) { super(ptr, "Model"); }

    /** Loads a safetensors or .pt file (memory-mapped). */
    public static Model load(String path) { return load(path, new Options()); }

    public static Model load(String path, Options o) {
        if (path == null) throw new PecoreException(Status.INVALID_ARG, "model path is null");
        return new Model(Native.modelLoad(utf8(path), utf8(o.sha256), o.visionHeads, o.textHeads,
                                          o.poolHeads, o.visionOnly));
    }

    public synchronized ModelInfo info() {
        long p = ptr();
        if (info == null) info = Native.modelInfo(p);
        return info;
    }

    /** Floats one image gives at height x width: {rows, cols}. */
    public synchronized int[] outputShape(int height, int width, Output kind) {
        return Native.outputShape(ptr(), height, width, kind.ordinal());
    }

    /** A context for one thread, with nThreads workers (0 = all cores). */
    public Encoder newEncoder(int nThreads) { return newEncoder(nThreads, Compute.F32); }

    /** A context for one thread computing in the given precision (Compute.F16:
     * Status.UNSUPPORTED where the CPU lacks FP16 arithmetic). */
    public Encoder newEncoder(int nThreads, Compute compute) {
        if (compute == null) throw new PecoreException(Status.INVALID_ARG, "compute is null");
        long mp = acquire();
        try {
            return new Encoder(this, mp, Native.ctxCreate(mp, nThreads, compute.ordinal()));
        } catch (RuntimeException e) {
            release();
            throw e;
        }
    }

    /** The tokenizer vocabulary stored in the model file (pecore convert --vocab). */
    public Tokenizer tokenizer() {
        synchronized (this) { return new Tokenizer(Native.tokenizerLoadModel(ptr())); }
    }

    public static String version() { return Native.version(); }

    /** Kernel set in use: "avx512", "avx2", "neon", "scalar" ... */
    public static String kernelIsa() { return Native.kernelIsa(); }

    synchronized long ptr() {
        if (closed) throw new PecoreException(Status.INVALID_ARG, "Model is closed");
        return get();
    }

    synchronized long acquire() {
        long p = ptr();
        users++;
        return p;
    }

    synchronized void release() {
        if (--users == 0 && closed) super.close();
    }

    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        if (users == 0) super.close();
    }

    @Override
    void free(long p) { Native.modelFree(p); }
}
