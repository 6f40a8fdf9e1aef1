package dev.pecore;

/** pe_output: what one image produces. */
public enum Output {
    /** [D]: the pooled embedding (PE) or the normalised class token (DINOv2). */
    EMBEDDING,
    /** [T * W]: the final token grid, class token first, row-major. */
    TOKENS,
    /** [5 * W]: the DINOv2 family's linear-probe input. */
    LINEAR4
}
