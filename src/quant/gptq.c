#include "calib.h"
pe_status pe_quant_gptq(pe_qplan *p, const pe_safetensors *st, int t, pe_wtype wt,
                        const pe_calib_site *site) {
    (void)p; (void)st; (void)t; (void)wt; (void)site;
    return PE_OK;
}
