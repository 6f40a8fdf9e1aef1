/* The classifier options and loading shared by `pecore classify` and
 * `pecore stream` (tools/cmd_classify.c). */
#ifndef PE_CLASSIFIER_H
#define PE_CLASSIFIER_H

#include "options.h"

typedef struct copts {
    const char *model, *out, *vocab, *raw, *protos, *gallery, *label;
    const char *labels, *labels_file, *templates_file, *thresholds_file, *crop;
    const char *templates[64];
    int n_templates;
    long top, k, context_length, threads;
    const char *compute;    /* --compute f32|f16 (NULL: f32) */
    int height, width;      /* --size; 0: the model's native size */
    int json, top_set, k_set;
    pe_metric metric;
    int metric_set;
    const char *inputs[MAX_INPUTS];
    int n_inputs;
} copts;

/* Defaults: --top 5, --k 5, --context-length 77. */
void copts_init(copts *o);
/* cli_scan's take function for the options above (--json is a flag). */
int copts_take(void *user, const char *option, const char *value);
/* Loads the model (the vision tower alone unless zero-shot), a context of
 * o->threads, and the one classifier that --labels/--labels-file (built
 * from text), --prototypes or --gallery names, checked against the model;
 * exactly one of *p and *g is set.  cmd prefixes the messages.  0 on
 * success; on an error everything is freed and 1 returned. */
int classifier_open(const copts *o, const char *cmd, pe_model **m, pe_ctx **c, pe_protos **p,
                    pe_gallery **g);

#endif
