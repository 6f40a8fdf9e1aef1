/* Model files: .pt -> safetensors conversion, SHA-256 of a file, manifest
 * checks.  Conversion goes through pe_model_load, so a file is only written
 * once every check of the reader and of the loader has passed. */
#include "model.h"
#include "names.h"

#include "../util/json.h"
#include "../util/sha256.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PE_VOCAB_TENSOR "pecore.vocab_bpe_gz"
#define PE_MAX_VOCAB_BYTES (64u << 20)
#define PE_MAX_MANIFEST_BYTES (16u << 20)

/* Whole small file into memory (vocabulary, manifest), size-limited. */
static pe_status read_small(const char *path, size_t limit, uint8_t **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) return pe_error(errno == ENOENT ? PE_ERR_NOT_FOUND : PE_ERR_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    pe_status s = PE_OK;
    for (;;) {
        if (n == cap) {
            if (cap >= limit) { s = pe_error(PE_ERR_LIMIT, "%s: larger than %zu bytes", path, limit); break; }
            cap = cap ? PE_MIN(cap * 2, limit) : 65536;
            uint8_t *p = realloc(buf, cap + 1);
            if (!p) { s = pe_error(PE_ERR_NOMEM, "%s: out of memory", path); break; }
            buf = p;
        }
        const size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (r == 0) {
            if (ferror(f)) s = pe_error(PE_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (s) { free(buf); return s; }
    if (!buf && !(buf = malloc(1))) return pe_error(PE_ERR_NOMEM, "%s: out of memory", path);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return PE_OK;
}

pe_status pe_file_sha256(const char *path, char hex[65]) {
    if (!path || !hex) return pe_error(PE_ERR_INVALID_ARG, "pe_file_sha256: NULL argument");
    FILE *f = fopen(path, "rb");
    if (!f) return pe_error(errno == ENOENT ? PE_ERR_NOT_FOUND : PE_ERR_IO, "%s: cannot open: %s", path,
                            strerror(errno));
    static const size_t chunk = 1 << 20;
    uint8_t *buf = malloc(chunk), d[32];
    if (!buf) { fclose(f); return pe_error(PE_ERR_NOMEM, "out of memory"); }
    pe_sha256_ctx c;
    pe_sha256_init(&c);
    size_t r;
    while ((r = fread(buf, 1, chunk, f)) > 0) pe_sha256_update(&c, buf, r);
    const int err = ferror(f);
    fclose(f);
    free(buf);
    if (err) return pe_error(PE_ERR_IO, "%s: read error", path);
    pe_sha256_final(&c, d);
    pe_sha256_hex(d, hex);
    return PE_OK;
}

static const char *base_name(const char *p) {
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

pe_status pe_verify_manifest(const char *path, const char *manifest, const char *name, char *version,
                             size_t version_cap) {
    if (!path || !manifest) return pe_error(PE_ERR_INVALID_ARG, "pe_verify_manifest: NULL argument");
    if (version && version_cap) version[0] = 0;
    uint8_t *text;
    size_t len;
    pe_status s = read_small(manifest, PE_MAX_MANIFEST_BYTES, &text, &len);
    if (s) return s;
    pe_json *root = NULL;
    if ((s = pe_json_parse((const char *)text, len, &root))) {
        free(text);
        return pe_error_prefix(s, "%s", manifest);
    }
    const pe_json *models = pe_json_get(root, "models");
    const char *want = name ? name : base_name(path);
    const pe_json *hit = NULL;
    if (!models || models->type != PE_JSON_ARRAY)
        s = pe_error(PE_ERR_FORMAT, "%s: no \"models\" array", manifest);
    for (size_t i = 0; !s && i < models->n; i++) {
        const pe_json *e = &models->items[i], *n = pe_json_get(e, "name");
        if (e->type != PE_JSON_OBJECT || !n || n->type != PE_JSON_STRING) {
            s = pe_error(PE_ERR_FORMAT, "%s: models[%zu] has no \"name\" string", manifest, i);
        } else if (!strcmp(n->raw, want)) {
            if (hit) s = pe_error(PE_ERR_FORMAT, "%s: two entries named '%.100s'", manifest, want);
            hit = e;
        }
    }
    const pe_json *sz = hit ? pe_json_get(hit, "size") : NULL, *sh = hit ? pe_json_get(hit, "sha256") : NULL;
    const pe_json *ver = hit ? pe_json_get(hit, "version") : NULL;
    uint64_t size = 0;
    uint8_t d[32];
    if (!s && !hit) s = pe_error(PE_ERR_NOT_FOUND, "%s: no entry named '%.100s'", manifest, want);
    if (!s && (!sz || !pe_json_u64(sz, &size) || !sh || sh->type != PE_JSON_STRING ||
               pe_sha256_parse(sh->raw, d) || !ver || ver->type != PE_JSON_STRING))
        s = pe_error(PE_ERR_FORMAT, "%s: entry '%.100s' needs \"version\" (string), \"size\" (integer) and "
                     "\"sha256\" (64 hex digits)", manifest, want);
    char hex[65];
    if (!s) {
        FILE *f = fopen(path, "rb");
        long long have = -1;
        if (f && fseeko(f, 0, SEEK_END) == 0) have = (long long)ftello(f);
        if (f) fclose(f);
        if (!f) s = pe_error(PE_ERR_NOT_FOUND, "%s: cannot open: %s", path, strerror(errno));
        else if (have < 0 || (uint64_t)have != size)
            s = pe_error(PE_ERR_CHECKSUM, "%s: %lld bytes, the manifest says %llu (version %.40s)", path, have,
                         (unsigned long long)size, ver->raw);
    }
    if (!s) s = pe_file_sha256(path, hex);
    if (!s) {
        uint8_t got[32];
        pe_sha256_parse(hex, got);
        if (memcmp(got, d, 32))
            s = pe_error(PE_ERR_CHECKSUM, "%s: SHA-256 is %s, the manifest says %.64s (version %.40s)", path, hex,
                         sh->raw, ver->raw);
    }
    if (!s && version && version_cap) snprintf(version, version_cap, "%s", ver->raw);
    pe_json_free(root);
    free(text);
    return s;
}

pe_status pe_convert(const char *in, const char *out, const pe_model_options *opt, const char *vocab_path,
                     pe_progress_fn progress, void *user) {
    if (!in || !out) return pe_error(PE_ERR_INVALID_ARG, "pe_convert: NULL path");
    if (progress) progress(user, "hash", 0);
    char src_hex[65];
    pe_status s = pe_file_sha256(in, src_hex);
    if (s) return s;
    pe_model *m = NULL;
    uint8_t *vocab = NULL;
    size_t vocab_len = 0;
    if (progress) progress(user, "load", 0.3);
    if ((s = pe_model_load(in, opt, &m))) return s;
    if (vocab_path && (s = read_small(vocab_path, PE_MAX_VOCAB_BYTES, &vocab, &vocab_len))) goto done;
    if (vocab && (vocab_len < 2 || vocab[0] != 0x1f || vocab[1] != 0x8b)) {
        s = pe_error(PE_ERR_FORMAT, "%s: not a gzip file (the vocabulary is bpe_simple_vocab_16e6.txt.gz)",
                     vocab_path);
        goto done;
    }
    const pe_safetensors *st = &m->st;
    const int n = st->n_tensors + (vocab != NULL), dinov2 = pe_arch_dinov2(&m->arch);
    pe_st_out *t = calloc((size_t)n, sizeof *t);
    if (!t) { s = pe_error(PE_ERR_NOMEM, "out of memory"); goto done; }
    for (int i = 0; i < st->n_tensors; i++) {
        const pe_st_tensor *a = &st->tensors[i];
        if (!strcmp(a->name, PE_VOCAB_TENSOR) && vocab) continue;
        if (pe_names_ignored(m->arch.family, a->name) && strcmp(a->name, PE_VOCAB_TENSOR)) continue; /* heads */
        pe_st_out *o = &t[i];
        o->name = a->name;
        o->dtype = a->dtype;
        o->rank = a->rank;
        memcpy(o->shape, a->shape, sizeof o->shape);
        o->data = a->data;
    }
    if (vocab) t[n - 1] = (pe_st_out){PE_VOCAB_TENSOR, PE_DT_U8, 1, {(int64_t)vocab_len}, vocab};
    const pe_arch *arch = &m->arch;
    char vh[16], ph[16], th[16];
    snprintf(vh, sizeof vh, "%d", arch->heads);
    snprintf(ph, sizeof ph, "%d", arch->pool_heads);
    snprintf(th, sizeof th, "%d", arch->text.heads);
    pe_st_meta meta[7] = {
        {"format", "pt"}, {"pecore.arch", (char *)arch->name}, {"vision_heads", vh},
        {"pecore.source_sha256", src_hex}, {"attn_pooler_heads", ph}, {"text_heads", th},
    };
    int n_meta = 4 + (arch->pool == PE_POOL_ATTN);
    if (arch->pool != PE_POOL_ATTN) meta[4] = meta[5];
    if (arch->text.layers) n_meta++;
    /* The DINOv2 family: the hub's metadata names, and pecore's family. */
    char nr[16];
    snprintf(nr, sizeof nr, "%d", arch->registers);
    pe_st_meta dmeta[] = {
        {"format", "pt"}, {"pecore.arch", (char *)arch->name}, {"num_heads", vh},
        {"pecore.source_sha256", src_hex}, {"num_register_tokens", nr},
        {"interpolate_antialias", arch->pos_resample == PE_POS_BICUBIC_AA ? "1" : "0"},
        {"interpolate_offset", arch->pos_resample == PE_POS_BICUBIC_AA ? "0.0" : "0.1"},
        {"pecore.family", (char *)pe_family_name(arch->family)},
    };
    const pe_st_meta *mp = dinov2 ? dmeta : meta;
    if (dinov2) n_meta = (int)(sizeof dmeta / sizeof *dmeta);
    if (progress) progress(user, "write", 0.6);
    /* A tensor skipped above (an old vocabulary) leaves an empty slot: compact. */
    int k = 0;
    for (int i = 0; i < n; i++)
        if (t[i].name) t[k++] = t[i];
    s = pe_st_write(out, t, k, mp, n_meta);
    free(t);
    if (!s && progress) progress(user, "write", 1);
done:
    free(vocab);
    pe_model_free(m);
    return s;
}
