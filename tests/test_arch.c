/* The architecture description and the checkpoint layouts: the known-model
 * table agrees with itself and with what the loader infers from a file of
 * it, the public view carries the family, and the table of names per slot
 * names every slot once per layout. */
#include "test.h"

#include "model/arch.h"
#include "model/names.h"
#include "pecore.h"

#include <unistd.h>

static void test_family(void) {
    CHECK(!strcmp(pe_family_name(PE_FAMILY_PE), "PE"), "PE");
    CHECK(!strcmp(pe_family_name(PE_FAMILY_DINOV2), "DINOv2"), "DINOv2");
    CHECK(!strcmp(pe_family_name(PE_FAMILY_FRANCA), "Franca"), "Franca");
    CHECK(!strcmp(pe_family_name((pe_family)7), "unknown"), "outside the enum");
}

/* What a family fixes holds in every row; sizes are whole. */
static void test_table(void) {
    CHECK(pe_arch_list_count() == pe_arch_count && pe_arch_count > 0, "count");
    for (int i = 0; i < pe_arch_count; i++) {
        const pe_arch *a = &pe_arch_table[i];
        CHECK(pe_arch_find(a->name) == a && !strcmp(pe_arch_list_name(i), a->name), "%s: find", a->name);
        CHECK(a->heads * a->head_dim == a->width && a->grid > 0 && a->patch > 0 && a->layers > 0,
              "%s: sizes", a->name);
        if (pe_arch_dinov2(a))
            CHECK(a->pool == PE_POOL_CLS && !a->rope && a->cls && a->ln_eps == 1e-6f && a->head_dim == 64 &&
                      a->pos_resample != PE_POS_BILINEAR && a->out_dim == a->width && !a->text.layers &&
                      (a->ffn == PE_FFN_SWIGLU) == (a->family == PE_FAMILY_FRANCA),
                  "%s: DINOv2 family switches", a->name);
        else
            CHECK(a->pool != PE_POOL_CLS && a->rope && a->ln_eps == 1e-5f && a->ffn == PE_FFN_GELU &&
                      a->pos_resample == PE_POS_BILINEAR && a->proj == (a->pool == PE_POOL_ATTN) &&
                      (a->text.layers > 0) == a->proj && a->transform == PE_TRANSFORM_PE,
                  "%s: PE switches", a->name);
    }
    CHECK(pe_arch_find("pe-core-t16-384") == &pe_arch_table[0] && !pe_arch_find("PE-Core-X") &&
              !pe_arch_find(NULL),
          "find is case-insensitive, NULL for an unknown name");
}

/* Every slot has a name in some layout, and within a layout no two slots
 * share one (a file's tensor is claimed by one slot at most). */
static void test_names(void) {
    for (int s = 0; s < PE_SLOT_COUNT; s++) {
        int named = 0;
        for (int l = 0; l < PE_LAYOUT_COUNT; l++) named += pe_names_slot((pe_layout)l, (pe_slot)s) != NULL;
        CHECK(named > 0 && strcmp(pe_names_what((pe_slot)s), "?"), "slot %d has no name", s);
        for (int l = 0; l < PE_LAYOUT_COUNT; l++)
            for (int t = s + 1; t < PE_SLOT_COUNT; t++) {
                const char *a = pe_names_slot((pe_layout)l, (pe_slot)s);
                const char *b = pe_names_slot((pe_layout)l, (pe_slot)t);
                CHECK(!a || !b || strcmp(a, b), "layout %d: slots %d and %d are both %s", l, s, t, a);
            }
    }
    CHECK(!strcmp(pe_names_slot(PE_LAYOUT_OFFICIAL, PE_SLOT_QKV_W), "attn.in_proj_weight") &&
              !strcmp(pe_names_slot(PE_LAYOUT_TIMM, PE_SLOT_LS1), "gamma_1") &&
              !strcmp(pe_names_slot(PE_LAYOUT_DINOV2, PE_SLOT_LS1), "ls1.gamma") &&
              !pe_names_slot(PE_LAYOUT_OFFICIAL, PE_SLOT_REGISTERS) &&
              !strcmp(pe_names_block(PE_LAYOUT_OFFICIAL), "transformer.resblocks.") &&
              !strcmp(pe_names_what(PE_SLOT_W12_W), "mlp.w12.weight") && !pe_names_slot(PE_LAYOUT_COUNT, 0),
          "sample names");
}

/* A synthetic file of a known model loads as that model: the public view
 * is the table's row. */
static void test_view(void) {
    char path[64];
    snprintf(path, sizeof path, "/tmp/pecore-test-arch-%d.safetensors", (int)getpid());
    const pe_arch *a = pe_arch_find("PE-Core-T16-384");
    pe_synth_options so = {.seed = 3, .type = PE_WEIGHTS_F16, .vision_only = 1};
    pe_model *m = NULL;
    pe_model_info in;
    CHECK(pe_synth_write(a->name, path, &so) == PE_OK, "synth: %s", pe_last_error());
    CHECK(pe_model_load(path, NULL, &m) == PE_OK, "load: %s", pe_last_error());
    if (m && pe_model_get_info(m, &in) == PE_OK) {
        CHECK(!strcmp(in.arch, a->name) && in.family == PE_FAMILY_PE && !strcmp(in.naming, "official"),
              "named %s (%s)", in.arch, in.naming);
        CHECK(in.patch == a->patch && in.width == a->width && in.layers == a->layers &&
                  in.heads == a->heads && in.head_dim == a->head_dim && in.mlp == a->mlp &&
                  in.grid == a->grid && in.image_size == a->grid * a->patch && in.has_cls == a->cls && in.pool == a->pool &&
                  in.pool_heads == a->pool_heads && in.has_proj == a->proj && in.out_dim == a->out_dim &&
                  in.rope == a->rope && in.ln_eps == a->ln_eps && in.pos_resample == a->pos_resample &&
                  in.has_ln_post == a->ln_post && in.has_layerscale == a->layerscale && !in.has_text &&
                  in.transform == a->transform && in.n_f16 > 0 && in.fingerprint != 0,
              "the view is the table's row");
    }
    pe_model_free(m);
    unlink(path);
}

int main(void) {
    test_family();
    test_table();
    test_names();
    test_view();
    return test_done("arch");
}
