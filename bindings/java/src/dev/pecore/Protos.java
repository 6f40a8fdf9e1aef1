package dev.pecore;

/**
 * A prototype pack (pe_protos): one unit-length embedding per class,
 * zero-shot from text or from the app's own embeddings; softmax over
 * logit_scale * cosine.  Thread-safe (calls hold its lock).
 */
public final class Protos extends Handle {
    /** pe_protos_add's "no threshold". */
    public static final float NO_THRESHOLD = -1.0f;

    private Protos(long ptr) { super(ptr, "Protos"); }

    /** An empty pack for the model's embeddings. */
    public static Protos create(Model m) {
        synchronized (m) { return new Protos(Native.protosCreate(m.ptr())); }
    }

    public static Protos load(String path) { return new Protos(Native.protosLoad(utf8(path))); }

    public synchronized void add(String label, float[] embedding, float threshold) {
        Native.protosAdd(get(), utf8(label), embedding, threshold);
    }

    /** One class per label from the text tower; templates empty: "a photo of a {}.". */
    public void addText(Encoder e, Tokenizer t, String[] labels, String... templates) {
        synchronized (this) {
            synchronized (e) {
                synchronized (t) {
                    Native.protosAddText(get(), e.ptrLocked(), t.get(), utf8(labels),
                                         templates.length == 0 ? null : utf8(templates));
                }
            }
        }
    }

    public synchronized void setThreshold(String label, float threshold) {
        Native.protosSetThreshold(get(), utf8(label), threshold);
    }

    public synchronized int count() { return Native.protosCount(get()); }

    public synchronized String label(int i) { return string(Native.protosLabel(get(), i)); }

    public synchronized float threshold(int i) { return Native.protosThreshold(get(), i); }

    public synchronized float[] embedding(int i) { return Native.protosEmbedding(get(), i); }

    /** Atomic: a temporary file beside path, fsync, rename. */
    public synchronized void save(String path) { Native.protosSave(get(), utf8(path)); }

    /** Throws (UNSUPPORTED) when the pack was made with another model. */
    public synchronized void checkModel(Model m) {
        synchronized (m) { Native.protosCheckModel(get(), m.ptr()); }
    }

    public synchronized Classification classify(float[] embedding, int topK) {
        return Native.protosClassify(get(), embedding, topK);
    }

    @Override
    void free(long p) { Native.protosFree(p); }
}
