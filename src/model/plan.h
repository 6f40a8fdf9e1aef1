/* The context's scratch plan (plan.c).  Planning allocates; a planned
 * context runs its passes without allocating. */
#ifndef PE_PLAN_H
#define PE_PLAN_H

#include "forward.h"

/* Sizes the rows and the grid tables for nb inputs of a gh x gw patch grid
 * and computes the grid's positions and RoPE table; nothing when it is the
 * planned grid and nb fits. */
pe_status pe_plan_vision(pe_ctx *c, int gh, int gw, int nb);
/* Sizes the rows for the text tower (its context); once. */
pe_status pe_plan_text(pe_ctx *c);

#endif
