/* The tokenizer vocabulary a conversion stored inside the model file
 * (pe_convert: U8 tensor "pecore.vocab_bpe_gz", the gzip bytes). */
#include "../model/model.h"

#define VOCAB_TENSOR "pecore.vocab_bpe_gz"

pe_status pe_tokenizer_load_model(const pe_model *m, pe_tokenizer **out) {
    if (!out) return pe_error(PE_ERR_INVALID_ARG, "pe_tokenizer_load_model: out is NULL");
    *out = NULL;
    if (!m) return pe_error(PE_ERR_INVALID_ARG, "pe_tokenizer_load_model: model is NULL");
    const pe_st_tensor *t = pe_st_find(&m->st, VOCAB_TENSOR);
    if (!t) return pe_error(PE_ERR_NOT_FOUND, "the model file holds no vocabulary (tensor %s)",
                            VOCAB_TENSOR);
    if (t->dtype != PE_DT_U8 || t->rank != 1 || !t->data || !t->nbytes)
        return pe_error(PE_ERR_FORMAT, "tensor %s: expected non-empty U8 [n]", VOCAB_TENSOR);
    pe_status s = pe_tokenizer_load_mem(t->data, (size_t)t->nbytes, out);
    return s ? pe_error_prefix(s, "vocabulary in the model file") : PE_OK;
}
