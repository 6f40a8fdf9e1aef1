package dev.pecore;

/**
 * pe_preprocess: the size an image is resized to and how.  forTransform()
 * gives a model family's own transform; the setters adjust it.
 */
public final class Preprocess {
    public enum Crop { SQUASH, CENTER }
    public enum Resample { BILINEAR, NEAREST, BICUBIC }
    public enum Normalize { HALF, IMAGENET }
    public enum Transform { PE, DINOV2_EVAL }

    public int height, width;
    public Crop crop = Crop.SQUASH;
    public Resample resample = Resample.BILINEAR;
    /** CENTER: the shorter side becomes this before the crop; 0 = the crop size. */
    public int resize;
    public Normalize norm = Normalize.HALF;

    /** PE's transform (squash, bilinear, [-1, 1]) to size x size. */
    public static Preprocess square(int size) {
        Preprocess p = new Preprocess();
        p.height = p.width = size;
        return p;
    }

    /** Transform t at crop size (0 = the transform's own, see pe_preprocess_init). */
    public static Preprocess forTransform(Transform t, int size) {
        int[] v = Native.preprocessInit(t.ordinal(), size);
        Preprocess p = new Preprocess();
        p.height = v[0];
        p.width = v[1];
        p.crop = Crop.values()[v[2]];
        p.resample = Resample.values()[v[3]];
        p.resize = v[4];
        p.norm = Normalize.values()[v[5]];
        return p;
    }

    public Preprocess crop(Crop c) { crop = c; return this; }

    int[] toNative() {
        return new int[] {height, width, crop.ordinal(), resample.ordinal(), resize, norm.ordinal()};
    }
}
