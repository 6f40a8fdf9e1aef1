import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertTrue;

import dev.pecore.Encoder;
import dev.pecore.Frame;
import dev.pecore.Model;
import dev.pecore.Output;
import dev.pecore.PixelFormat;
import dev.pecore.Preprocess;
import dev.pecore.Status;
import java.nio.ByteBuffer;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/**
 * Camera frames as CameraX hands them over, against the CLI's embed --frames
 * of the same raw frame (tests/test_java.sh makes it with ffmpeg: chelsea.png
 * as yuv420p, W x H in pecore.frame.size).
 */
public class FrameTest {
    static Model micro;
    static Encoder enc;
    static int w, h;
    static byte[] i420;

    @BeforeClass
    public static void open() throws Exception {
        micro = Model.load(TestData.MICRO);
        enc = micro.newEncoder(2);
        String[] wh = System.getProperty("pecore.frame.size").split("x");
        w = Integer.parseInt(wh[0]);
        h = Integer.parseInt(wh[1]);
        i420 = TestData.bytes(TestData.tmp("frame.yuv"));
    }

    @AfterClass
    public static void close() {
        enc.close();
        micro.close();
    }

    /**
     * The I420 frame as a phone's YUV_420_888: Y rows padded to a row stride,
     * U and V interleaved in one buffer (pixel stride 2, V first as most
     * devices), the two planes views of it one byte apart, each ending at its
     * last sample.
     */
    static Frame yuv420888() {
        int cw = (w + 1) / 2, ch = (h + 1) / 2, yStride = w + 24, cStride = 2 * cw + 8;
        ByteBuffer y = ByteBuffer.allocateDirect(yStride * (h - 1) + w);
        for (int r = 0; r < h; r++)
            for (int c = 0; c < w; c++) y.put(r * yStride + c, i420[r * w + c]);
        ByteBuffer vu = ByteBuffer.allocateDirect(cStride * (ch - 1) + 2 * cw);
        int u0 = w * h, v0 = u0 + cw * ch;
        for (int r = 0; r < ch; r++)
            for (int c = 0; c < cw; c++) {
                vu.put(r * cStride + 2 * c, i420[v0 + r * cw + c]);
                vu.put(r * cStride + 2 * c + 1, i420[u0 + r * cw + c]);
            }
        /* the U view starts one byte in and ends at the last U sample */
        ByteBuffer v = vu.duplicate();
        v.limit(vu.capacity() - 1);
        v = v.slice();
        vu.position(1);
        ByteBuffer u = vu.slice();
        return Frame.yuv420888(w, h, y, yStride, 1, u, cStride, 2, v, cStride, 2);
    }

    @Test
    public void yuv420888EqualsCli() throws Exception {
        float[] cli = TestData.npy(TestData.tmp("cli_frame.npy"));
        float[] got = enc.encodeFrame(yuv420888(), Preprocess.square(64), Output.EMBEDDING, null);
        assertArrayEquals(cli, got, 0f);
    }

    @Test
    public void rotationAndMirrorEqualCli() throws Exception {
        float[] cli = TestData.npy(TestData.tmp("cli_frame_rot90_mirror.npy"));
        float[] out = new float[cli.length];
        float[] got = enc.encodeFrame(yuv420888().rotation(90).mirror(true), Preprocess.square(64),
                                      Output.EMBEDDING, out);
        assertTrue("the caller's array is filled", got == out);
        assertArrayEquals(cli, got, 0f);
    }

    /** Planes too small for their strides, a bad rotation: exceptions, never a read past the end. */
    @Test
    public void badFrames() throws Exception {
        Preprocess pp = Preprocess.square(64);
        Encoder e = enc;
        ByteBuffer px = ByteBuffer.allocateDirect(64 * 64 * 4);
        /* a camera frame whose chroma planes are a byte short */
        ByteBuffer y = ByteBuffer.allocateDirect(64 * 64), u = ByteBuffer.allocateDirect(32 * 32 - 1);
        Frame f = Frame.yuv420888(64, 64, y, 64, 1, u, 32, 1, u, 32, 1);
        ErrorTest.expect(Status.SHAPE, "", () -> e.encodeFrame(f, pp, Output.EMBEDDING, null));
        Frame rot = Frame.rgba8888(px, 64, 64, 256).rotation(45);
        ErrorTest.expect(Status.INVALID_ARG, "", () -> e.encodeFrame(rot, pp, Output.EMBEDDING, null));
        ErrorTest.expect(Status.INVALID_ARG, "", () -> new Frame(Frame.Format.NV12, 64, 64, new ByteBuffer[4], new int[4], new int[4]));
        ErrorTest.expect(Status.INVALID_ARG, "direct", () -> e.encodeFrame(
            Frame.rgba8888(ByteBuffer.allocate(64 * 64 * 4), 64, 64, 256), pp, Output.EMBEDDING, null));
        ErrorTest.expect(Status.SHAPE, "", () -> e.encodeFrame(Frame.rgba8888(px, 64, 65, 256), pp, Output.EMBEDDING, null));
    }

    /** An RGBA_8888 frame is the same image as the still-image path's. */
    @Test
    public void rgbaFrameEqualsImage() throws Exception {
        String png = TestData.golden("images/chelsea.png");
        int[] wh = TestData.size(png);
        ByteBuffer px = TestData.pixels4(png, "RGBA", wh[0] * 4 + 16);
        float[] img = enc.encodeImage(px, wh[0], wh[1], wh[0] * 4 + 16, PixelFormat.RGBA8,
                                      Preprocess.square(64), Output.EMBEDDING);
        float[] fr = enc.encodeFrame(Frame.rgba8888(px, wh[0], wh[1], wh[0] * 4 + 16),
                                     Preprocess.square(64), Output.EMBEDDING, null);
        assertArrayEquals(img, fr, 0f);
    }
}
