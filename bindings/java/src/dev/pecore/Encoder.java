package dev.pecore;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;

/**
 * A pe_ctx: scratch memory and worker threads for encoding with one model.
 * Use one Encoder per thread.  Its methods hold the Encoder's lock, so an
 * Encoder shared by threads is safe but runs one call at a time.  Pixel data
 * is passed as direct ByteBuffers and read in place, never copied; results
 * are written into a native buffer the Encoder keeps (grown once per size)
 * and copied out as float[].
 */
public final class Encoder extends Handle {
    private final Model model;
    private final long modelPtr;   /* valid while this encoder is open (acquired) */
    private Preprocess own;        /* the model's own transform, at its default size */
    private ByteBuffer out, in;    /* direct, native order */

    /* Made by Model.newEncoder, which has acquired modelPtr for it. */
    Encoder(Model model, long modelPtr, long ctx) {
        super(ctx, "Encoder");
        this.model = model;
        this.modelPtr = modelPtr;
    }

    public Model model() { return model; }

    /** An image with the model's own transform, as an embedding. */
    public float[] encodeImage(ByteBuffer pixels, int width, int height, int rowStride,
                               PixelFormat format) {
        return encodeImage(pixels, width, height, rowStride, format, null, Output.EMBEDDING);
    }

    /** An 8-bit image in a direct buffer; pp null = the model's own transform. */
    public synchronized float[] encodeImage(ByteBuffer pixels, int width, int height,
                                            int rowStride, PixelFormat format, Preprocess pp,
                                            Output kind) {
        long c = get();
        pp = resolve(pp);
        int n = floats(pp, kind);
        Native.encodeImage(c, pixels, width, height, rowStride, format.ordinal(), pp.toNative(),
                           kind.ordinal(), outBuffer(n), n);
        return result(new float[n]);
    }

    /** A camera frame with the model's own transform, as an embedding. */
    public float[] encodeFrame(Frame f) {
        return encodeFrame(f, null, Output.EMBEDDING, null);
    }

    /**
     * A camera frame (converted, cropped, rotated, mirrored and resized in
     * one pass over its planes); into out when it is the right size, which
     * then allocates nothing after the first frame of a size.
     */
    public synchronized float[] encodeFrame(Frame f, Preprocess pp, Output kind, float[] dst) {
        long c = get();
        pp = resolve(pp);
        int n = floats(pp, kind);
        Native.encodeFrame(c, f.format.ordinal(), f.width, f.height, f.planes, f.rowStrides,
                           f.pixelStrides, f.yuv.ordinal(),
                           new int[] {f.cropX, f.cropY, f.cropWidth, f.cropHeight}, f.rotation,
                           f.mirror, pp.toNative(), kind.ordinal(), outBuffer(n), n);
        return result(dst != null && dst.length == n ? dst : new float[n]);
    }

    /** n images already normalised: x is float32 [n, 3, height, width]. */
    public synchronized float[] encodeTensor(float[] x, int n, int height, int width,
                                             Output kind) {
        long c = get();
        if (x == null || n <= 0 || (long) n * 3 * height * width != x.length)
            throw new PecoreException(Status.SHAPE, "encodeTensor: x must hold n*3*height*width floats");
        int[] rc = Native.outputShape(modelPtr, height, width, kind.ordinal());
        long total = (long) n * rc[0] * rc[1];
        if (total > Integer.MAX_VALUE) throw new PecoreException(Status.LIMIT, "encodeTensor: output too large");
        if (in == null || in.capacity() < x.length * 4L)
            in = ByteBuffer.allocateDirect(x.length * 4).order(ByteOrder.nativeOrder());
        FloatBuffer fb = in.asFloatBuffer();
        fb.put(x);
        Native.encodeF32(c, in, n, height, width, kind.ordinal(), outBuffer((int) total), total);
        return result(new float[(int) total]);
    }

    /** Token ids [n, contextLen] (Tokenizer.tokenize) through the text tower: n * textOutDim floats. */
    public synchronized float[] encodeTokens(int[] ids, int n, int contextLen) {
        long c = get();
        int d = model.info().textOutDim;
        if (d == 0) throw new PecoreException(Status.UNSUPPORTED, "the model has no text tower");
        Native.encodeText(c, ids, n, contextLen, outBuffer(n * d), (long) n * d);
        return result(new float[n * d]);
    }

    /** Each text through the text tower: one textOutDim embedding per text (not normalised). */
    public float[][] encodeText(Tokenizer t, String... texts) {
        ModelInfo mi = model.info();
        int L = mi.textContext;
        int[] ids = new int[texts.length * L];
        for (int i = 0; i < texts.length; i++)
            System.arraycopy(t.tokenize(texts[i], L), 0, ids, i * L, L);
        float[] flat = encodeTokens(ids, texts.length, L);
        float[][] out = new float[texts.length][mi.textOutDim];
        for (int i = 0; i < texts.length; i++)
            System.arraycopy(flat, i * mi.textOutDim, out[i], 0, mi.textOutDim);
        return out;
    }

    /** The CLIP-style class embedding of label over templates (none: "a photo of a {}."). */
    public synchronized float[] textClassEmbedding(Tokenizer t, String label, String... templates) {
        long c = get();
        int d = model.info().textOutDim;
        synchronized (t) {
            Native.textClassEmbedding(c, t.get(), utf8(label),
                                      templates.length == 0 ? null : utf8(templates), outBuffer(d), d);
        }
        return result(new float[d]);
    }

    /* For Protos.addText: the context pointer, this encoder's lock held by the caller. */
    long ptrLocked() { return get(); }

    private Preprocess resolve(Preprocess pp) {
        if (pp != null) return pp;
        if (own == null) own = Preprocess.forTransform(model.info().transform, 0);
        if (own.height == 0) own.height = own.width = model.info().imageSize;
        return own;
    }

    private int floats(Preprocess pp, Output kind) {
        int[] rc = Native.outputShape(modelPtr, pp.height, pp.width, kind.ordinal());
        return rc[0] * rc[1];
    }

    private ByteBuffer outBuffer(int n) {
        if (out == null || out.capacity() < n * 4L)
            out = ByteBuffer.allocateDirect(n * 4).order(ByteOrder.nativeOrder());
        return out;
    }

    private float[] result(float[] dst) {
        FloatBuffer fb = out.asFloatBuffer();
        fb.get(dst);
        return dst;
    }

    @Override
    void free(long p) {
        Native.ctxFree(p);
        model.release();
    }
}
