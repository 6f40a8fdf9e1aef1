package dev.pecore;

/** pe_compute: the arithmetic of an Encoder's forward pass (Model.newEncoder). */
public enum Compute {
    /** float32 throughout (the default). */
    F32,
    /**
     * The block linears with half-precision multiply-adds (pecore.h, pe_compute):
     * ARMv8.2 FP16 CPUs (Cortex-A76 class and later); elsewhere newEncoder
     * throws with Status.UNSUPPORTED.
     */
    F16
}
