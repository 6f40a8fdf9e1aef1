package dev.pecore;

import java.nio.ByteBuffer;

/**
 * pe_frame: a camera frame as the platform hands it over, up to three planes
 * of direct ByteBuffers with their row and pixel strides, read in place.
 * Each plane is its buffer from its start to its capacity (position and
 * limit are not looked at: slice() a buffer to pass a part of it); the
 * library checks every plane's size against the strides before reading.
 *
 * CameraX (ImageAnalysis, YUV_420_888):
 * <pre>
 *   ImageProxy.PlaneProxy[] p = image.getPlanes();
 *   Frame f = Frame.yuv420888(image.getWidth(), image.getHeight(),
 *       p[0].getBuffer(), p[0].getRowStride(), p[0].getPixelStride(),
 *       p[1].getBuffer(), p[1].getRowStride(), p[1].getPixelStride(),
 *       p[2].getBuffer(), p[2].getRowStride(), p[2].getPixelStride())
 *     .rotation(image.getImageInfo().getRotationDegrees());
 * </pre>
 */
public final class Frame {
    /** pe_frame_format, in its order. */
    public enum Format { NV12, NV21, I420, YUV_420_888, BGRA8, RGBA8, BGRX8, RGBX8, GRAY8 }

    /** pe_yuv_matrix: Android cameras give BT601_LIMITED (the default). */
    public enum YuvMatrix { BT601_LIMITED, BT601_FULL, BT709_LIMITED, BT709_FULL }

    final Format format;
    final int width, height;
    final ByteBuffer[] planes;
    final int[] rowStrides, pixelStrides;
    YuvMatrix yuv = YuvMatrix.BT601_LIMITED;
    int cropX, cropY, cropWidth, cropHeight;
    int rotation;
    boolean mirror;

    /**
     * Any format: planes as pe_frame_format lists them; a pixel stride of 0
     * is the format's own.
     */
    public Frame(Format format, int width, int height, ByteBuffer[] planes, int[] rowStrides,
                 int[] pixelStrides) {
        if (format == null || planes == null || rowStrides == null || pixelStrides == null
            || planes.length > 3 || rowStrides.length != planes.length
            || pixelStrides.length != planes.length)
            throw new PecoreException(Status.INVALID_ARG,
                                      "Frame: a format and up to 3 planes, each with its strides");
        this.format = format;
        this.width = width;
        this.height = height;
        this.planes = planes.clone();
        this.rowStrides = rowStrides.clone();
        this.pixelStrides = pixelStrides.clone();
    }

    /** Android's YUV_420_888 (CameraX ImageProxy / Camera2 Image planes). */
    public static Frame yuv420888(int width, int height,
                                  ByteBuffer y, int yRowStride, int yPixelStride,
                                  ByteBuffer u, int uRowStride, int uPixelStride,
                                  ByteBuffer v, int vRowStride, int vPixelStride) {
        return new Frame(Format.YUV_420_888, width, height, new ByteBuffer[] {y, u, v},
                         new int[] {yRowStride, uRowStride, vRowStride},
                         new int[] {yPixelStride, uPixelStride, vPixelStride});
    }

    /** CameraX's RGBA_8888 output (one plane, pixel stride 4). */
    public static Frame rgba8888(ByteBuffer rgba, int width, int height, int rowStride) {
        return new Frame(Format.RGBA8, width, height, new ByteBuffer[] {rgba},
                         new int[] {rowStride}, new int[] {4});
    }

    /** Clockwise degrees that make the frame upright (CameraX rotationDegrees). */
    public Frame rotation(int degrees) { rotation = degrees; return this; }

    /** Flip left-right after rotating (front cameras). */
    public Frame mirror(boolean m) { mirror = m; return this; }

    /** A crop in buffer coordinates, before rotation (CameraX getCropRect()). */
    public Frame crop(int x, int y, int w, int h) {
        cropX = x; cropY = y; cropWidth = w; cropHeight = h;
        return this;
    }

    public Frame yuvMatrix(YuvMatrix m) { yuv = m; return this; }
}
