package dev.pecore;

/** The CLIP BPE tokenizer (pe_tokenizer); thread-safe (calls hold its lock). */
public final class Tokenizer extends Handle {
    Tokenizer(long ptr) { super(ptr, "Tokenizer"); }

    /** From bpe_simple_vocab_16e6.txt.gz. */
    public static Tokenizer load(String path) {
        return new Tokenizer(Native.tokenizerLoad(utf8(path)));
    }

    /** Exactly contextLen ids: [sot] ids [eot], padded with 0. */
    public synchronized int[] tokenize(String text, int contextLen) {
        return Native.tokenize(get(), utf8(text), contextLen);
    }

    @Override
    void free(long p) { Native.tokenizerFree(p); }
}
