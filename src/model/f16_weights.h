/* fp16 compute's weights (f16_weights.c). */
#ifndef PE_MODEL_F16_H
#define PE_MODEL_F16_H

#include "model.h"

/* Gives the block linears of m their f16 panels (pe_linear.w16), once per
 * model; later calls return at once.  Thread-safe.  PE_ERR_NOMEM when the
 * converted copy does not fit. */
pe_status pe_model_f16_prepare(const pe_model *m);

#endif
