package dev.pecore;

import java.nio.charset.StandardCharsets;

/** pe_model_info: what a loaded model is (sizes in elements). */
public final class ModelInfo {
    public final String arch, naming, family;
    public final int patch, width, layers, heads, headDim, mlp, imageSize, grid;
    public final boolean hasCls;
    /** 0 none (token grid only), 1 attention pooling, 2 class token. */
    public final int pool;
    public final int outDim;
    public final boolean hasText;
    public final int textContext, textWidth, textHeads, textLayers, textVocab, textOutDim;
    public final int nRegisters;
    public final Preprocess.Transform transform;
    public final float logitScale;
    public final long nParams, fileBytes, fingerprint;

    /* From the JNI glue; ints in the order pecore_jni.c's model_info writes them. */
    ModelInfo(byte[] arch, byte[] naming, byte[] family, int[] v, float logitScale, long nParams,
              long fileBytes, long fingerprint) {
        this.arch = new String(arch, StandardCharsets.UTF_8);
        this.naming = new String(naming, StandardCharsets.UTF_8);
        this.family = new String(family, StandardCharsets.UTF_8);
        int i = 0;
        patch = v[i++]; width = v[i++]; layers = v[i++]; heads = v[i++]; headDim = v[i++];
        mlp = v[i++]; imageSize = v[i++]; grid = v[i++]; hasCls = v[i++] != 0; pool = v[i++];
        outDim = v[i++]; hasText = v[i++] != 0; textContext = v[i++]; textWidth = v[i++];
        textHeads = v[i++]; textLayers = v[i++]; textVocab = v[i++]; textOutDim = v[i++];
        nRegisters = v[i++]; transform = Preprocess.Transform.values()[v[i++]];
        this.logitScale = logitScale;
        this.nParams = nParams;
        this.fileBytes = fileBytes;
        this.fingerprint = fingerprint;
    }

    @Override
    public String toString() {
        return arch + " (" + family + ", " + width + " wide, " + layers + " layers, " + imageSize
            + " px, D=" + outDim + (hasText ? ", text D=" + textOutDim : "") + ")";
    }
}
