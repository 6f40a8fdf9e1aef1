package dev.pecore;

/** pe_pixel_format: 8-bit still images (decoded photos, Bitmap buffers). */
public enum PixelFormat {
    GRAY8(1), GRAYA8(2), RGB8(3), RGBA8(4), BGRA8(4);

    /** Bytes per pixel. */
    public final int bytes;

    PixelFormat(int bytes) { this.bytes = bytes; }
}
