// A Kotlin caller of dev.pecore, as an Android app would write it: load,
// encode a direct RGBA buffer, zero-shot label.  Prints "kotlin: LABEL SCORE".
import dev.pecore.Model
import dev.pecore.PixelFormat
import dev.pecore.Protos
import dev.pecore.Tokenizer
import java.io.File
import java.nio.ByteBuffer
import javax.imageio.ImageIO

fun main(args: Array<String>) {
    val raster = ImageIO.read(File(args[1])).raster
    val (w, h) = raster.width to raster.height
    val rgba = ByteBuffer.allocateDirect(w * h * 4)
    val px = IntArray(raster.numBands)
    for (y in 0 until h) for (x in 0 until w) {
        raster.getPixel(x, y, px)
        rgba.put(px[0].toByte()).put(px[1].toByte()).put(px[2].toByte()).put(255.toByte())
    }
    val vocab = File(args[0]).resolveSibling("../bpe_simple_vocab_16e6.txt.gz").path
    Model.load(args[0]).use { model ->
        model.newEncoder(2).use { enc ->
            Tokenizer.load(vocab).use { tok ->
                Protos.create(model).use { protos ->
                    protos.addText(enc, tok, arrayOf("cat", "dog", "astronaut", "coffee"))
                    val emb = enc.encodeImage(rgba, w, h, w * 4, PixelFormat.RGBA8,
                                              dev.pecore.Preprocess.square(64), dev.pecore.Output.EMBEDDING)
                    val best = protos.classify(emb, 1).top[0]
                    println("kotlin: ${best.label} ${best.score}")
                }
            }
        }
    }
}
