/* pecore info: what a model file holds — architecture, family, dtypes,
 * sizes, outputs — from pe_model_get_info. */
#include "cli.h"
#include "commands.h"
#include "options.h"

#include <stdio.h>

/* What pe_quantize wrote into a file it made: the type, the method and the
 * quality report measured on the calibration images.  Every string is the
 * file's, shown escaped. */
static void print_quantized(const pe_model *m) {
    const char *type = pe_model_meta(m, "pecore_type"), *method = pe_model_meta(m, "pecore_quant_method");
    if (!type) return;
    printf("quantized     ");
    cli_print_safe(stdout, type);
    if (method) {
        printf(" (");
        cli_print_safe(stdout, method);
        printf(")");
    }
    printf("\n");
    pe_quant_report r;
    pe_status s = pe_model_quant_report(m, &r);
    if (s == PE_ERR_NOT_FOUND) return;
    if (s) {
        printf("quality       unreadable report: ");
        cli_print_safe(stdout, pe_last_error());
        printf("\n");
        return;
    }
    printf("quality       cosine to the float model mean %.5f, min %.5f on %d calibration image%s\n",
           r.cos_mean, r.cos_min, r.n_images, r.n_images == 1 ? "" : "s");
    printf("              %d int8 linears: %d smoothed, %d error-compensated, %d input columns in float\n",
           r.n_linears, r.n_smoothed, r.n_gptq, r.n_fcols);
    for (int i = 0; i < r.n_worst; i++) {
        printf("%s", i ? "              " : "losing most   ");
        cli_print_safe(stdout, r.worst[i].name);
        printf("  %.4f -> %.4f  ", r.worst[i].before, r.worst[i].after);
        cli_print_safe(stdout, r.worst[i].action);
        printf("\n");
    }
}

int cmd_info(int argc, char **argv) {
    opts o;
    if (cli_help(argc, argv, "usage: pecore info -m MODEL\n")) return 0;
    if (cli_parse(argc, argv, " -m --model ", &o)) return 1;
    if (o.n_inputs) return cli_fail("info: unexpected argument '%s'", o.inputs[0]);
    pe_model *m;
    if (cli_load_model(o.model, 0, &m)) return 1;
    pe_model_info in;
    pe_model_get_info(m, &in);
    printf("file          %s (%.2f MB, %d tensors: %d F32, %d F16, %d BF16", o.model, in.file_bytes / 1e6,
           in.n_tensors, in.n_f32, in.n_f16, in.n_bf16);
    if (in.n_q8 || in.n_q4) printf(", %d q8, %d q4", in.n_q8, in.n_q4);
    printf(")\n");
    printf("architecture  %s (%s names)\n", in.arch, in.naming);
    printf("family        %s\n", pe_family_name(in.family));
    if (in.family != PE_FAMILY_PE)
        printf("variant       %s FFN, %d register tokens, LayerScale %s, learned position grid "
               "(bicubic%s)\n", in.ffn_swiglu ? "SwiGLU" : "GELU", in.n_registers,
               in.has_layerscale ? "yes" : "no",
               in.pos_resample == PE_POS_BICUBIC_AA ? ", antialiased" : " with offset 0.1");
    else
    printf("variant       %s\n", in.pool == PE_POOL_ATTN
                                    ? (in.has_text ? "Core CLIP (vision + text towers)" : "Core (pooled embedding)")
                                    : in.has_layerscale ? "Lang / Spatial (token grid, LayerScale)"
                                                        : "token grid (no pooling head)");
    printf("parameters    %llu (%.2f M)\n", (unsigned long long)in.n_params, in.n_params / 1e6);
    printf("vision        patch %d, width %d, %d layers, %d heads of %d, mlp %d\n", in.patch,
           in.width, in.layers, in.heads, in.head_dim, in.mlp);
    printf("input         %dx%d native (grid %dx%d), any multiple of %d works\n", in.image_size,
           in.image_size, in.grid, in.grid, in.patch);
    printf("tokens        %s cls token, ln_post %s, LayerScale %s\n", in.has_cls ? "with" : "no",
           in.has_ln_post ? "yes" : "no", in.has_layerscale ? "yes" : "no");
    if (in.pool == PE_POOL_CLS)
        printf("output        normalised class token [%d]; tokens [1 + %d + patches, %d]; "
               "linear4 [%d]\n", in.width, in.n_registers, in.width, 5 * in.width);
    else if (in.pool == PE_POOL_ATTN)
        printf("output        attention pooling (%d heads)%s -> embedding [%d]\n", in.pool_heads,
               in.has_proj ? " + projection" : "", in.out_dim);
    else
        printf("output        token grid [T, %d] (no pooling head)\n", in.width);
    if (in.has_text)
        printf("text          context %d, width %d, %d layers, %d heads -> [%d], logit scale %.2f\n",
               in.text_context, in.text_width, in.text_layers, in.text_heads, in.text_out_dim,
               in.logit_scale);
    else
        printf("text          none (vision tower only)\n");
    print_quantized(m);
    pe_model_free(m);
    return 0;
}
