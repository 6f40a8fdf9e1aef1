package dev.pecore;

/**
 * A KNN gallery (pe_gallery): labelled reference embeddings; the k nearest
 * vote.  Thread-safe (calls hold its lock).
 */
public final class Gallery extends Handle {
    /** pe_metric. */
    public enum Metric { COSINE, L2 }

    private Gallery(long ptr) { super(ptr, "Gallery"); }

    public static Gallery create(Model m) {
        synchronized (m) { return new Gallery(Native.galleryCreate(m.ptr())); }
    }

    public static Gallery load(String path) { return new Gallery(Native.galleryLoad(utf8(path))); }

    /** source names what the entry was made from (may be null). */
    public synchronized void add(String label, String source, float[] embedding) {
        Native.galleryAdd(get(), utf8(label), utf8(source), embedding);
    }

    /** Removes every entry of label; returns how many (NOT_FOUND when none). */
    public synchronized int remove(String label) { return Native.galleryRemove(get(), utf8(label)); }

    public synchronized int count() { return Native.galleryCount(get()); }

    public synchronized int labelCount() { return Native.galleryLabelCount(get()); }

    public synchronized String label(int i) { return string(Native.galleryLabel(get(), i)); }

    /** Entry i: {label, source}. */
    public synchronized String[] entry(int i) {
        byte[][] e = Native.galleryEntry(get(), i);
        return new String[] {string(e[0]), string(e[1])};
    }

    public synchronized void save(String path) { Native.gallerySave(get(), utf8(path)); }

    public synchronized void checkModel(Model m) {
        synchronized (m) { Native.galleryCheckModel(get(), m.ptr()); }
    }

    public synchronized Classification classify(float[] embedding, int k, Metric metric, int topK) {
        return Native.galleryClassify(get(), embedding, k, metric.ordinal(), topK);
    }

    @Override
    void free(long p) { Native.galleryFree(p); }
}
