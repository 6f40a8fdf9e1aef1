import java.awt.image.BufferedImage;
import java.awt.image.Raster;
import java.io.File;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import javax.imageio.ImageIO;

/** Paths the driver (tests/test_java.sh) passes, and readers for its files. */
final class TestData {
    private TestData() {}

    static final String GOLDEN = System.getProperty("pecore.golden", "../shared/golden");
    /** Where the driver wrote the CLI's outputs, and the tests write theirs. */
    static final String TMP = System.getProperty("pecore.tmp", "/tmp");
    static final String MICRO = GOLDEN + "/models/pe-micro.safetensors";
    static final String MICRO_TIMM = GOLDEN + "/models/pe-micro-timm.safetensors";
    static final String VOCAB = GOLDEN + "/bpe_simple_vocab_16e6.txt.gz";

    static String golden(String rel) { return GOLDEN + "/" + rel; }

    static String tmp(String name) { return TMP + "/" + name; }

    /** A float32 little-endian .npy: the values (the shape is the caller's business). */
    static float[] npy(String path) throws IOException {
        byte[] b = Files.readAllBytes(Paths.get(path));
        if (b.length < 10 || b[0] != (byte) 0x93 || b[1] != 'N')
            throw new IOException(path + ": not an .npy file");
        int hlen = b[6] == 1 ? (b[8] & 0xff) | (b[9] & 0xff) << 8
                             : ByteBuffer.wrap(b, 8, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        int off = b[6] == 1 ? 10 + hlen : 12 + hlen;
        String header = new String(b, b[6] == 1 ? 10 : 12, hlen, StandardCharsets.ISO_8859_1);
        if (!header.contains("'<f4'")) throw new IOException(path + ": not float32: " + header);
        float[] v = new float[(b.length - off) / 4];
        ByteBuffer.wrap(b, off, b.length - off).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(v);
        return v;
    }

    static List<String> lines(String path) throws IOException {
        return Files.readAllLines(Paths.get(path), StandardCharsets.UTF_8);
    }

    static byte[] bytes(String path) throws IOException { return Files.readAllBytes(Paths.get(path)); }

    /**
     * A PNG's pixels in a direct buffer as 4-byte pixels in the given channel
     * order ("RGBA" or "BGRA"), each row padded to rowStride bytes, read from
     * the raster (getRGB would colour-convert).
     */
    static ByteBuffer pixels4(String png, String order, int rowStride) throws IOException {
        Raster r = ImageIO.read(new File(png)).getRaster();
        int w = r.getWidth(), h = r.getHeight();
        ByteBuffer buf = ByteBuffer.allocateDirect(rowStride * (h - 1) + w * 4);
        int[] px = new int[r.getNumBands()];
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++) {
                r.getPixel(x, y, px);
                int[] rgba = px.length >= 3 ? new int[] {px[0], px[1], px[2], 255}
                                            : new int[] {px[0], px[0], px[0], 255};
                for (int c = 0; c < 4; c++)
                    buf.put(y * rowStride + x * 4 + c, (byte) rgba[order.indexOf("RGBA".charAt(c))]);
            }
        return buf;
    }

    static int[] size(String png) throws IOException {
        BufferedImage im = ImageIO.read(new File(png));
        return new int[] {im.getWidth(), im.getHeight()};
    }

    /** A raw file (ffmpeg rawvideo) in a direct buffer. */
    static ByteBuffer direct(byte[] b) {
        ByteBuffer d = ByteBuffer.allocateDirect(b.length);
        d.put(b).clear();
        return d;
    }

    static double cosine(float[] a, float[] b) {
        double ab = 0, aa = 0, bb = 0;
        for (int i = 0; i < a.length; i++) {
            ab += (double) a[i] * b[i];
            aa += (double) a[i] * a[i];
            bb += (double) b[i] * b[i];
        }
        return ab / Math.sqrt(aa * bb);
    }

    /** max |a - b| / max |b|. */
    static double relMax(float[] a, float[] b) {
        double d = 0, m = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
            m = Math.max(m, Math.abs(b[i]));
        }
        return d / m;
    }
}
