/* The known-model table of SPEC.md plus the PE-Lang / PE-Spatial variants of
 * the reference config.  Used to name a loaded model, to supply head counts a
 * file does not carry, and by `pecore synth`. */
#include "model.h"

#include <strings.h>

const pe_arch pe_arch_table[] = {
    /* name              P   W     L   H   MLP   D   cls img  pool lnp ls  text: ctx W    H   L  family */
    {"PE-Core-T16-384",  16, 192,  12, 3,  768,  512, 1, 384, 1,   1,  0,  32, 512,  8,  12, NULL, 0, 0},
    {"PE-Core-S16-384",  16, 384,  12, 6,  1536, 512, 1, 384, 1,   1,  0,  32, 512,  8,  12, NULL, 0, 0},
    {"PE-Core-B16-224",  16, 768,  12, 12, 3072, 1024, 1, 224, 1,  1,  0,  32, 1024, 16, 24, NULL, 0, 0},
    {"PE-Core-L14-336",  14, 1024, 24, 16, 4096, 1024, 1, 336, 1,  1,  0,  32, 1024, 16, 24, NULL, 0, 0},
    {"PE-Core-G14-448",  14, 1536, 50, 16, 8960, 1280, 0, 448, 1,  1,  0,  72, 1280, 20, 24, NULL, 0, 0},
    {"PE-Lang-L14-448",  14, 1024, 23, 16, 4096, 0,    1, 448, 0,  0,  1,  0, 0, 0, 0, NULL, 0, 0},
    {"PE-Lang-G14-448",  14, 1536, 47, 16, 8960, 0,    0, 448, 0,  0,  1,  0, 0, 0, 0, NULL, 0, 0},
    {"PE-Spatial-G14-448", 14, 1536, 50, 16, 8960, 0,  0, 448, 0,  0,  1,  0, 0, 0, 0, NULL, 0, 0},
    /* the DINOv2 family (SPEC-dinov2.md): class-token embedding, heads of 64;
     * mlp is SwiGLU's hidden size h where swiglu               family  reg swiglu */
    {"DINOv2-S14",       14, 384,  12, 6,  1536, 384,  1, 518, 0,  1,  1,  0, 0, 0, 0, "DINOv2", 0, 0},
    {"DINOv2-S14-reg4",  14, 384,  12, 6,  1536, 384,  1, 518, 0,  1,  1,  0, 0, 0, 0, "DINOv2", 4, 0},
    {"DINOv2-B14",       14, 768,  12, 12, 3072, 768,  1, 518, 0,  1,  1,  0, 0, 0, 0, "DINOv2", 0, 0},
    {"DINOv2-L14",       14, 1024, 24, 16, 4096, 1024, 1, 518, 0,  1,  1,  0, 0, 0, 0, "DINOv2", 0, 0},
    {"Franca-B14",       14, 768,  12, 12, 2048, 768,  1, 518, 0,  1,  1,  0, 0, 0, 0, "Franca", 0, 1},
    {"Franca-L14",       14, 1024, 24, 16, 2736, 1024, 1, 224, 0,  1,  1,  0, 0, 0, 0, "Franca", 0, 1},
};
const int pe_arch_count = (int)(sizeof pe_arch_table / sizeof pe_arch_table[0]);

const pe_arch *pe_arch_find(const char *name) {
    for (int i = 0; name && i < pe_arch_count; i++)
        if (strcasecmp(pe_arch_table[i].name, name) == 0) return &pe_arch_table[i];
    return NULL;
}
