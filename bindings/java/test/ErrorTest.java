import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import dev.pecore.Compute;
import dev.pecore.Encoder;
import dev.pecore.Gallery;
import dev.pecore.Model;
import dev.pecore.Output;
import dev.pecore.PecoreException;
import dev.pecore.PixelFormat;
import dev.pecore.Preprocess;
import dev.pecore.Protos;
import dev.pecore.Status;
import dev.pecore.Tokenizer;
import java.io.FileOutputStream;
import java.nio.ByteBuffer;
import org.junit.Test;

/** Every failure is a PecoreException with the library's status and message, never a crash. */
public class ErrorTest {
    interface Call { void run() throws Exception; }

    static PecoreException expect(Status s, String words, Call c) throws Exception {
        try {
            c.run();
        } catch (PecoreException e) {
            assertEquals(e.getMessage(), s, e.status());
            assertTrue("'" + e.getMessage() + "' lacks '" + words + "'", e.getMessage().contains(words));
            assertTrue(e.getMessage(), !e.getMessage().contains("\n"));
            return e;
        }
        fail("no exception (wanted " + s + ": " + words + ")");
        return null;
    }

    @Test
    public void missingModel() throws Exception {
        expect(Status.NOT_FOUND, "no-such-model.safetensors", () -> Model.load(TestData.tmp("no-such-model.safetensors")));
        expect(Status.INVALID_ARG, "null", () -> Model.load(null));
        expect(Status.IO, "no-vocab.gz", () -> Tokenizer.load(TestData.tmp("no-vocab.gz")));
        expect(Status.NOT_FOUND, "no.gal", () -> Gallery.load(TestData.tmp("no.gal")));
    }

    @Test
    public void corruptModel() throws Exception {
        byte[] good = TestData.bytes(TestData.MICRO);
        String trunc = TestData.tmp("truncated.safetensors");
        try (FileOutputStream o = new FileOutputStream(trunc)) { o.write(good, 0, good.length / 2); }
        PecoreException e = expect(Status.FORMAT, "", () -> Model.load(trunc));
        String junk = TestData.tmp("junk.safetensors");
        try (FileOutputStream o = new FileOutputStream(junk)) { o.write("not a model at all".getBytes("UTF-8")); }
        expect(e.status(), "", () -> Model.load(junk));
        Model.Options o = new Model.Options();
        o.sha256 = "00000000000000000000000000000000000000000000000000000000000000ff";
        expect(Status.CHECKSUM, "", () -> Model.load(TestData.MICRO, o));
    }

    @Test
    public void badBuffers() throws Exception {
        try (Model m = Model.load(TestData.MICRO); Encoder e = m.newEncoder(1)) {
            Preprocess pp = Preprocess.square(64);
            ByteBuffer small = ByteBuffer.allocateDirect(64 * 64 * 4 - 1);
            expect(Status.SHAPE, "needs", () -> e.encodeImage(small, 64, 64, 256, PixelFormat.RGBA8, pp, Output.EMBEDDING));
            ByteBuffer heap = ByteBuffer.allocate(64 * 64 * 4);
            expect(Status.INVALID_ARG, "direct", () -> e.encodeImage(heap, 64, 64, 256, PixelFormat.RGBA8, pp, Output.EMBEDDING));
            expect(Status.INVALID_ARG, "null", () -> e.encodeImage(null, 64, 64, 256, PixelFormat.RGBA8, pp, Output.EMBEDDING));
            ByteBuffer ok = ByteBuffer.allocateDirect(64 * 64 * 4);
            expect(Status.INVALID_ARG, "stride", () -> e.encodeImage(ok, 64, 64, 100, PixelFormat.RGBA8, pp, Output.EMBEDDING));
            expect(Status.SHAPE, "", () -> e.encodeImage(ok, 64, 64, 256, PixelFormat.RGBA8, Preprocess.square(63), Output.EMBEDDING));
            expect(Status.SHAPE, "", () -> e.encodeTensor(new float[5], 1, 64, 64, Output.EMBEDDING));
            /* the encoder still works after all that */
            assertEquals(m.info().outDim, e.encodeImage(ok, 64, 64, 256, PixelFormat.RGBA8).length);
        }
    }

    /** Compute.F16: an encoder close to F32's where the CPU has FP16
     * arithmetic, else Status.UNSUPPORTED naming it (x86: this host). */
    @Test
    public void computeF16() throws Exception {
        try (Model m = Model.load(TestData.MICRO)) {
            String arch = System.getProperty("os.arch");
            if (arch.equals("amd64") || arch.equals("x86_64")) {
                expect(Status.UNSUPPORTED, "compute f16", () -> m.newEncoder(1, Compute.F16));
                return;
            }
            try (Encoder e16 = m.newEncoder(1, Compute.F16); Encoder e32 = m.newEncoder(1, Compute.F32)) {
                float[] x = new float[3 * 64 * 64];
                for (int i = 0; i < x.length; i++) x[i] = (float) Math.sin(i * 0.37);
                float[] a = e16.encodeTensor(x, 1, 64, 64, Output.EMBEDDING);
                float[] b = e32.encodeTensor(x, 1, 64, 64, Output.EMBEDDING);
                double d = 0, na = 0, nb = 0;
                for (int i = 0; i < a.length; i++) { d += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
                assertTrue("f16 cosine to f32", d / Math.sqrt(na * nb) > 0.999);
            } catch (PecoreException ex) {
                assertEquals(Status.UNSUPPORTED, ex.status());
                assertTrue(ex.getMessage(), ex.getMessage().contains("compute f16"));
            }
        }
    }

    @Test
    public void useAfterClose() throws Exception {
        Model m = Model.load(TestData.MICRO);
        Encoder e = m.newEncoder(1);
        Tokenizer t = Tokenizer.load(TestData.VOCAB);
        Protos p = Protos.create(m);
        Gallery g = Gallery.create(m);
        ByteBuffer px = ByteBuffer.allocateDirect(64 * 64 * 4);
        m.close();
        m.close(); /* twice is fine */
        expect(Status.INVALID_ARG, "Model is closed", m::info);
        expect(Status.INVALID_ARG, "Model is closed", () -> m.newEncoder(1));
        expect(Status.INVALID_ARG, "Model is closed", () -> Protos.create(m));
        /* an open encoder keeps the weights alive */
        assertEquals(32, e.encodeImage(px, 64, 64, 256, PixelFormat.RGBA8, Preprocess.square(64), Output.EMBEDDING).length);
        e.close();
        expect(Status.INVALID_ARG, "Encoder is closed", () -> e.encodeImage(px, 64, 64, 256, PixelFormat.RGBA8));
        expect(Status.INVALID_ARG, "Encoder is closed", () -> e.encodeTensor(new float[3 * 64 * 64], 1, 64, 64, Output.EMBEDDING));
        t.close();
        expect(Status.INVALID_ARG, "Tokenizer is closed", () -> t.tokenize("a cat", 77));
        p.close();
        expect(Status.INVALID_ARG, "Protos is closed", p::count);
        g.close();
        expect(Status.INVALID_ARG, "Gallery is closed", () -> g.classify(new float[4], 1, Gallery.Metric.COSINE, 1));
    }

    @Test
    public void badClassifierInput() throws Exception {
        try (Model m = Model.load(TestData.MICRO); Protos p = Protos.create(m); Gallery g = Gallery.create(m)) {
            int d = m.info().outDim;
            float[] ones = new float[d];
            java.util.Arrays.fill(ones, 1f);
            expect(Status.SHAPE, "", () -> p.add("cat", new float[d + 1], Protos.NO_THRESHOLD));
            expect(Status.INVALID_ARG, "zero", () -> p.add("cat", new float[d], Protos.NO_THRESHOLD));
            p.add("cat", ones, Protos.NO_THRESHOLD);
            expect(Status.INVALID_ARG, "", () -> p.add("cat", ones, Protos.NO_THRESHOLD));
            expect(Status.INVALID_ARG, "NUL", () -> p.add("c\0t", ones, Protos.NO_THRESHOLD));
            expect(Status.NOT_FOUND, "", () -> g.remove("nothing"));
            expect(Status.INVALID_ARG, "", () -> g.add("x", null, null));
        }
    }
}
