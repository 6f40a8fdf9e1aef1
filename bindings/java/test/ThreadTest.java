import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import dev.pecore.Encoder;
import dev.pecore.Model;
import dev.pecore.Output;
import dev.pecore.PecoreException;
import dev.pecore.PixelFormat;
import dev.pecore.Preprocess;
import dev.pecore.Status;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.Test;

/** One model shared by many threads: each with its encoder, or all through one. */
public class ThreadTest {
    static final int THREADS = 8, ROUNDS = 6;

    static ByteBuffer image() throws Exception {
        String png = TestData.golden("images/chelsea.png");
        int[] wh = TestData.size(png);
        return TestData.pixels4(png, "RGBA", wh[0] * 4);
    }

    static float[] encode(Encoder e, ByteBuffer px, int[] wh) {
        return e.encodeImage(px, wh[0], wh[1], wh[0] * 4, PixelFormat.RGBA8, Preprocess.square(64), Output.EMBEDDING);
    }

    @Test
    public void encoderPerThread() throws Exception {
        int[] wh = TestData.size(TestData.golden("images/chelsea.png"));
        ByteBuffer px = image();
        try (Model m = Model.load(TestData.MICRO)) {
            float[] want;
            try (Encoder e = m.newEncoder(1)) { want = encode(e, px, wh); }
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<Integer>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++)
                done.add(pool.submit(() -> {
                    try (Encoder e = m.newEncoder(1)) {
                        for (int r = 0; r < ROUNDS; r++) assertArrayEquals(want, encode(e, px, wh), 0f);
                    }
                    return ROUNDS;
                }));
            int n = 0;
            for (Future<Integer> f : done) n += f.get();
            pool.shutdown();
            assertEquals(THREADS * ROUNDS, n);
        }
    }

    @Test
    public void sharedEncoderIsSerialised() throws Exception {
        int[] wh = TestData.size(TestData.golden("images/chelsea.png"));
        ByteBuffer px = image();
        try (Model m = Model.load(TestData.MICRO); Encoder e = m.newEncoder(2)) {
            float[] want = encode(e, px, wh);
            ExecutorService pool = Executors.newFixedThreadPool(THREADS);
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < THREADS; t++)
                done.add(pool.submit(() -> {
                    for (int r = 0; r < ROUNDS; r++) assertArrayEquals(want, encode(e, px, wh), 0f);
                    return null;
                }));
            for (Future<?> f : done) f.get();
            pool.shutdown();
        }
    }

    /* Closing while other threads encode: each call either completes with the
     * right answer or says the encoder is closed. */
    @Test
    public void closeWhileEncoding() throws Exception {
        int[] wh = TestData.size(TestData.golden("images/chelsea.png"));
        ByteBuffer px = image();
        Model m = Model.load(TestData.MICRO);
        Encoder e = m.newEncoder(1);
        float[] want = encode(e, px, wh);
        m.close();
        AtomicInteger ok = new AtomicInteger(), closed = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> done = new ArrayList<>();
        for (int t = 0; t < 4; t++)
            done.add(pool.submit(() -> {
                for (int r = 0; r < 50; r++) {
                    try {
                        assertArrayEquals(want, encode(e, px, wh), 0f);
                        ok.incrementAndGet();
                    } catch (PecoreException x) {
                        assertEquals(Status.INVALID_ARG, x.status());
                        closed.incrementAndGet();
                    }
                }
                return null;
            }));
        while (ok.get() < 3) Thread.sleep(1);
        e.close();
        for (Future<?> f : done) f.get();
        pool.shutdown();
        assertTrue(ok.get() >= 3);
        assertEquals(200, ok.get() + closed.get());
    }
}
