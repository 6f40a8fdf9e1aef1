import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import dev.pecore.Classification;
import dev.pecore.Encoder;
import dev.pecore.Gallery;
import dev.pecore.Model;
import dev.pecore.ModelInfo;
import dev.pecore.Output;
import dev.pecore.PecoreException;
import dev.pecore.PixelFormat;
import dev.pecore.Preprocess;
import dev.pecore.Protos;
import dev.pecore.Status;
import dev.pecore.Tokenizer;
import java.nio.ByteBuffer;
import java.util.List;
import org.junit.AfterClass;
import org.junit.BeforeClass;
import org.junit.Test;

/** The golden cases through the Java API, and agreement with the CLI's outputs. */
public class GoldenTest {
    static Model micro;
    static Encoder enc;
    static Tokenizer tok;

    @BeforeClass
    public static void open() {
        micro = Model.load(TestData.MICRO);
        enc = micro.newEncoder(2);
        tok = Tokenizer.load(TestData.VOCAB);
    }

    @AfterClass
    public static void close() {
        enc.close();
        micro.close();
        tok.close();
    }

    static float[] chelsea(Encoder e, String order, PixelFormat f) throws Exception {
        String png = TestData.golden("images/chelsea.png");
        int[] wh = TestData.size(png);
        int stride = wh[0] * 4 + 12; /* padded rows: the stride is honoured */
        ByteBuffer px = TestData.pixels4(png, order, stride);
        return e.encodeImage(px, wh[0], wh[1], stride, f, Preprocess.square(64), Output.EMBEDDING);
    }

    @Test
    public void info() {
        ModelInfo i = micro.info();
        assertEquals("PE", i.family);
        assertTrue(i.hasText);
        assertEquals(i.outDim, i.textOutDim);
        assertEquals(i.outDim, micro.outputShape(64, 64, Output.EMBEDDING)[1]);
        assertTrue(Model.version().matches("\\d+\\.\\d+\\.\\d+"));
    }

    @Test
    public void rawInputMatchesReference() throws Exception {
        for (String size : new String[] {"64x64", "48x80", "96x96"}) {
            String[] hw = size.split("x");
            int h = Integer.parseInt(hw[0]), w = Integer.parseInt(hw[1]);
            float[] x = TestData.npy(TestData.golden("inputs/pe-micro_raw_" + size + ".npy"));
            float[] want = TestData.npy(TestData.golden("expected/pe-micro_raw_" + size + "_embedding.npy"));
            float[] got = enc.encodeTensor(x, 2, h, w, Output.EMBEDDING);
            int d = micro.info().outDim;
            assertEquals(want.length, got.length);
            for (int n = 0; n < 2; n++) {
                float[] a = java.util.Arrays.copyOfRange(got, n * d, n * d + d);
                float[] b = java.util.Arrays.copyOfRange(want, n * d, n * d + d);
                assertTrue(size + " cos", TestData.cosine(a, b) >= 0.99999);
                assertTrue(size + " rel", TestData.relMax(a, b) <= 1e-4);
            }
        }
    }

    /** RGBA and BGRA buffers with padded rows give the CLI's embedding bit for bit. */
    @Test
    public void imageEqualsCli() throws Exception {
        float[] cli = TestData.npy(TestData.tmp("cli_chelsea.npy"));
        assertArrayEquals(cli, chelsea(enc, "RGBA", PixelFormat.RGBA8), 0f);
        assertArrayEquals(cli, chelsea(enc, "BGRA", PixelFormat.BGRA8), 0f);
        float[] ref = TestData.npy(TestData.golden("expected/pe-micro_chelsea_64_squash_embedding.npy"));
        assertTrue(TestData.cosine(cli, ref) >= 0.9999);
    }

    @Test
    public void tokenizerEqualsCli() throws Exception {
        List<String> texts = TestData.lines(TestData.tmp("texts.txt"));
        List<String> ids = TestData.lines(TestData.tmp("cli_ids.txt"));
        assertEquals(texts.size(), ids.size());
        for (int i = 0; i < texts.size(); i++) {
            StringBuilder sb = new StringBuilder();
            for (int id : tok.tokenize(texts.get(i), 77)) sb.append(sb.length() > 0 ? " " : "").append(id);
            assertEquals(texts.get(i), ids.get(i).trim(), sb.toString());
        }
    }

    @Test
    public void textEqualsCli() throws Exception {
        List<String> texts = TestData.lines(TestData.tmp("texts.txt"));
        float[] cli = TestData.npy(TestData.tmp("cli_text.npy"));
        float[][] got = enc.encodeText(tok, texts.toArray(new String[0]));
        int d = micro.info().textOutDim;
        for (int i = 0; i < got.length; i++)
            assertArrayEquals(texts.get(i), java.util.Arrays.copyOfRange(cli, i * d, i * d + d), got[i], 0f);
    }

    /** Zero-shot from labels: the CLI's label and score (its --json prints 6 digits). */
    @Test
    public void zeroShotEqualsCli() throws Exception {
        String json = new String(TestData.bytes(TestData.tmp("cli_zeroshot.json")), "UTF-8");
        String label = json.replaceAll("(?s).*?\"label\": \"([^\"]*)\".*", "$1");
        float score = Float.parseFloat(json.replaceAll("(?s).*?\"score\": ([0-9.e-]+).*", "$1"));
        String[] labels = System.getProperty("pecore.labels").split(",");
        try (Protos p = Protos.create(micro)) {
            p.addText(enc, tok, labels);
            assertEquals(labels.length, p.count());
            Classification r = p.classify(chelsea(enc, "RGBA", PixelFormat.RGBA8), 5);
            assertEquals(label, r.label());
            assertEquals(score, r.top.get(0).score, 2e-6);
            float[] e = enc.textClassEmbedding(tok, labels[0]);
            assertArrayEquals(p.embedding(0), e, 1e-6f); /* unit length either way */
        }
    }

    @Test
    public void protosRoundTrip() throws Exception {
        String path = TestData.tmp("java.pack");
        float[] cat = chelsea(enc, "RGBA", PixelFormat.RGBA8);
        float[] other = cat.clone();
        for (int i = 0; i < other.length; i += 2) other[i] = -other[i];
        try (Protos p = Protos.create(micro)) {
            p.add("animal/cat", cat, 0.5f);
            p.add("thing/other", other, Protos.NO_THRESHOLD);
            p.save(path);
        }
        try (Protos p = Protos.load(path)) {
            p.checkModel(micro);
            assertEquals(2, p.count());
            assertEquals("animal/cat", p.label(0));
            assertEquals(0.5f, p.threshold(0), 0f);
            Classification r = p.classify(cat, 2);
            assertEquals("animal/cat", r.label());
            assertEquals("animal", r.coarse.get(0).label);
            assertTrue(!r.unknown);
            float[] near = cat.clone();
            near[0] += 0.1f * Math.abs(near[1]) + 0.01f; /* cosine just below 1 */
            p.setThreshold("animal/cat", 1.0f);
            Classification u = p.classify(near, 2);
            assertTrue(u.unknown);
            assertEquals(null, u.label());
            try (Model timm = Model.load(TestData.MICRO_TIMM)) {
                p.checkModel(timm);
                throw new AssertionError("a pack of another model was accepted");
            } catch (PecoreException e) {
                assertEquals(Status.UNSUPPORTED, e.status());
            }
        }
    }

    /** Saved here, listed by the CLI afterwards (tests/test_java.sh). */
    @Test
    public void galleryRoundTrip() throws Exception {
        String path = TestData.tmp("java.gal");
        float[] cat = chelsea(enc, "RGBA", PixelFormat.RGBA8);
        float[] raw = TestData.npy(TestData.golden("inputs/pe-micro_raw_64x64.npy"));
        float[] two = enc.encodeTensor(raw, 2, 64, 64, Output.EMBEDDING);
        int d = micro.info().outDim;
        try (Gallery g = Gallery.create(micro)) {
            g.add("animal/cat", "chelsea.png", cat);
            g.add("noise/a", "raw 0", java.util.Arrays.copyOfRange(two, 0, d));
            g.add("noise/b", null, java.util.Arrays.copyOfRange(two, d, 2 * d));
            g.add("café ☕ 🐱", "ünïcode", cat);
            g.save(path);
        }
        try (Gallery g = Gallery.load(path)) {
            g.checkModel(micro);
            assertEquals(4, g.count());
            assertEquals(4, g.labelCount());
            assertEquals("chelsea.png", g.entry(0)[1]);
            assertEquals("", g.entry(2)[1]);
            assertEquals("café ☕ 🐱", g.entry(3)[0]);
            Classification r = g.classify(cat, 3, Gallery.Metric.COSINE, 3);
            assertEquals(3, r.neighbors.size());
            assertEquals(1.0f, r.neighbors.get(0).similarity, 1e-5f);
            assertTrue(r.label().equals("animal/cat") || r.label().equals("café ☕ 🐱"));
            assertEquals(1, g.remove("café ☕ 🐱"));
            assertEquals(3, g.count());
            assertEquals("animal/cat", g.classify(cat, 1, Gallery.Metric.L2, 1).label());
            g.save(path);
        }
    }
}
