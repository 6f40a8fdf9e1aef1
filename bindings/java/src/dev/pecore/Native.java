package dev.pecore;

import java.nio.ByteBuffer;

/**
 * The JNI entry points (bindings/java/jni/pecore_jni.c).  Handles are the C
 * pointers as long; 0 is refused by every call.  Strings cross as NUL-
 * terminated UTF-8 byte arrays.  Not public: the classes around it check
 * that handles are open and hold the locks.
 */
final class Native {
    private Native() {}

    static {
        String path = System.getProperty("pecore.library");
        if (path != null) System.load(path);
        else System.loadLibrary("pecore_jni");
    }

    static native String version();
    static native String kernelIsa();

    static native long modelLoad(byte[] path, byte[] sha256, int visionHeads, int textHeads,
                                 int poolHeads, boolean visionOnly);
    static native void modelFree(long m);
    static native ModelInfo modelInfo(long m);
    static native int[] outputShape(long m, int height, int width, int kind);
    static native int[] preprocessInit(int transform, int size);

    static native long ctxCreate(long m, int threads, int compute);
    static native void ctxFree(long c);
    static native void encodeF32(long c, ByteBuffer x, int n, int height, int width, int kind,
                                 ByteBuffer out, long outFloats);
    static native void encodeImage(long c, ByteBuffer pixels, int width, int height, int rowStride,
                                   int format, int[] pp, int kind, ByteBuffer out, long outFloats);
    static native void encodeFrame(long c, int format, int width, int height, ByteBuffer[] planes,
                                   int[] rowStrides, int[] pixelStrides, int yuv, int[] crop,
                                   int rotation, boolean mirror, int[] pp, int kind,
                                   ByteBuffer out, long outFloats);
    static native void encodeText(long c, int[] ids, int n, int contextLen, ByteBuffer out,
                                  long outFloats);
    static native void textClassEmbedding(long c, long tok, byte[] label, byte[][] templates,
                                          ByteBuffer out, long outFloats);

    static native long tokenizerLoad(byte[] path);
    static native long tokenizerLoadModel(long m);
    static native void tokenizerFree(long t);
    static native int[] tokenize(long t, byte[] text, int contextLen);

    static native long protosCreate(long m);
    static native long protosLoad(byte[] path);
    static native void protosFree(long p);
    static native void protosAdd(long p, byte[] label, float[] emb, float threshold);
    static native void protosAddText(long p, long c, long tok, byte[][] labels, byte[][] templates);
    static native void protosSetThreshold(long p, byte[] label, float threshold);
    static native int protosCount(long p);
    static native byte[] protosLabel(long p, int i);
    static native float protosThreshold(long p, int i);
    static native float[] protosEmbedding(long p, int i);
    static native void protosSave(long p, byte[] path);
    static native void protosCheckModel(long p, long m);
    static native Classification protosClassify(long p, float[] emb, int topK);

    static native long galleryCreate(long m);
    static native long galleryLoad(byte[] path);
    static native void galleryFree(long g);
    static native void galleryAdd(long g, byte[] label, byte[] source, float[] emb);
    static native int galleryRemove(long g, byte[] label);
    static native int galleryCount(long g);
    static native int galleryLabelCount(long g);
    static native byte[] galleryLabel(long g, int i);
    static native byte[][] galleryEntry(long g, int i);
    static native void gallerySave(long g, byte[] path);
    static native void galleryCheckModel(long g, long m);
    static native Classification galleryClassify(long g, float[] emb, int k, int metric, int topK);
}
