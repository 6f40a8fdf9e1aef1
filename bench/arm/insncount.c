/* insncount: a QEMU TCG plugin (API version 1, qemu 7.2) that counts the
 * AArch64 instructions a guest executes, in total, by class and by symbol.
 *
 *   qemu-aarch64 -plugin build/bench-arm/insncount.so,out=FILE prog args...
 *
 * Each instruction word is decoded once, when QEMU translates its block; the
 * block then gets one inline add per (symbol, class) it contains, so counting
 * costs a few host instructions per executed block and no helper calls.
 * Blocks are entered at the top and leave at the bottom in user mode (a fault
 * in the middle would overcount that block; the programs measured take none).
 * Inline adds are not atomic: counts are exact for a single-threaded guest.
 *
 * Phases: a guest that calls syscall(PE_MARK_NR, PE_MARK_MAGIC) starts a new
 * phase (bench/arm/pass.c brackets one forward pass so); each phase is
 * reported on its own.  Natively that syscall number does not exist and
 * returns ENOSYS, so a marked program runs anywhere.
 *
 * Output (FILE, or QEMU's log when out= is not given), tab separated:
 *   phase  symbol  total fmla dot mmla simd load store branch other
 * with symbol "*" for the phase's total, then every symbol that ran in it,
 * most instructions first.
 *
 * blocks=FILE also counts how often each translated block runs (one more
 * inline add per block) and writes, tab separated, most instructions first:
 *   phase  vaddr(hex)  instructions  executions  symbol
 * An inner loop is one block, so this finds the loops bench/arm/mca.sh models. */
#define PE_MARK_NO_CALL /* the constants only: this is the host side */
#include "pe_mark.h"
#include "qemu_plugin_api.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

QEMU_PLUGIN_EXPORT int qemu_plugin_version = QEMU_PLUGIN_VERSION;


enum {
    C_FMLA,   /* AdvSIMD vector FMLA / FMLS / FMUL (f16, f32, f64; by element too) */
    C_DOT,    /* SDOT / UDOT / USDOT / SUDOT (vector and by element) */
    C_MMLA,   /* SMMLA / UMMLA / USMMLA */
    C_SIMD,   /* every other SIMD & FP data-processing instruction (scalar FP too) */
    C_LOAD,   /* loads of any kind (pairs, structures, literals, atomics) */
    C_STORE,  /* stores */
    C_BRANCH, /* B, BL, B.cond, CBZ/CBNZ, TBZ/TBNZ, BR, BLR, RET */
    C_OTHER,  /* integer data processing, system, everything else */
    N_CLASS
};
static const char *const class_name[N_CLASS] = {"fmla", "dot",   "mmla",   "simd",
                                                "load", "store", "branch", "other"};

/* One match of an encoding: (w & mask) == value. */
typedef struct {
    uint32_t mask, value;
} enc;

/* Encodings from the Arm ARM (DDI 0487), section C4 (A64 encoding index). */
static const enc fmla_enc[] = {
    {0xBF20FC00, 0x0E20CC00}, /* FMLA/FMLS (vector) f32/f64: 0Q0 01110 o1 sz 1 Rm 11001 1 */
    {0xBFA0FC00, 0x2E20DC00}, /* FMUL (vector) f32/f64:      0Q1 01110 0 sz 1 Rm 11011 1 */
    {0xBF60FC00, 0x0E400C00}, /* FMLA/FMLS (vector) f16:     0Q0 01110 a 10 Rm 00 001 1 */
    {0xBFE0FC00, 0x2E401C00}, /* FMUL (vector) f16:          0Q1 01110 010 Rm 00 011 1 */
    {0xBF00F400, 0x0F001000}, /* FMLA (by element):          0Q0 01111 sz L M Rm 0001 H 0 */
    {0xBF00F400, 0x0F005000}, /* FMLS (by element):          ...            0101 H 0 */
    {0xBF00F400, 0x0F009000}, /* FMUL (by element):          ...            1001 H 0 */
};
static const enc dot_enc[] = {
    {0x9FE0FC00, 0x0E809400}, /* SDOT/UDOT (vector):      0QU 01110 10 0 Rm 1 0010 1 */
    {0xBFE0FC00, 0x0E809C00}, /* USDOT (vector):          0Q0 01110 10 0 Rm 1 0011 1 */
    {0x9FC0F400, 0x0F80E000}, /* SDOT/UDOT (by element):  0QU 01111 10 L M Rm 1110 H 0 */
    {0xBF40F400, 0x0F00F000}, /* SUDOT/USDOT (by element): 0Q0 01111 x0 L M Rm 1111 H 0 */
};
static const enc mmla_enc[] = {
    {0xDFE0FC00, 0x4E80A400}, /* SMMLA/UMMLA: 01U 01110 10 0 Rm 1 010 0 1 */
    {0xFFE0FC00, 0x4E80AC00}, /* USMMLA:      010 01110 10 0 Rm 1 010 1 1 */
};

static int match(uint32_t w, const enc *e, size_t n) {
    for (size_t i = 0; i < n; i++)
        if ((w & e[i].mask) == e[i].value) return 1;
    return 0;
}

/* Loads and stores: op0 = x1x0 (bits 28:25). */
static int load_or_store(uint32_t w) {
    uint32_t b29_24 = (w >> 24) & 0x3F, b29_27 = (w >> 27) & 7, opc = (w >> 22) & 3;
    int v = (w >> 26) & 1;
    if (b29_27 == 3 && !(w & (1u << 24))) return C_LOAD; /* literal (and PRFM literal) */
    if (b29_24 == 0x19) return opc ? C_LOAD : C_STORE;   /* LDAPUR / STLUR (unscaled) */
    if (b29_27 == 7) {                                   /* single register */
        if (!(w & (1u << 24)) && (w & (1u << 21)) && ((w >> 10) & 3) == 0)
            return C_LOAD;                               /* atomics: read-modify-write */
        if (v) return (opc & 1) ? C_LOAD : C_STORE;      /* B/H/S/D/Q: opc<0> = load */
        return opc ? C_LOAD : C_STORE;                   /* LDRS*, PRFM count as loads */
    }
    return (w & (1u << 22)) ? C_LOAD : C_STORE;          /* pairs, exclusives, LD1..ST4 */
}

static int classify(uint32_t w) {
    uint32_t op0 = (w >> 25) & 0xF;
    if ((op0 & 0x7) == 0x7) { /* SIMD & FP data processing */
        if (match(w, fmla_enc, sizeof fmla_enc / sizeof *fmla_enc)) return C_FMLA;
        if (match(w, dot_enc, sizeof dot_enc / sizeof *dot_enc)) return C_DOT;
        if (match(w, mmla_enc, sizeof mmla_enc / sizeof *mmla_enc)) return C_MMLA;
        return C_SIMD;
    }
    if ((op0 & 0x5) == 0x4) return load_or_store(w);
    if ((op0 & 0xE) == 0xA) { /* branches, exception generation, system */
        if ((w & 0x7C000000) == 0x14000000) return C_BRANCH; /* B, BL */
        if ((w & 0x7C000000) == 0x34000000) return C_BRANCH; /* CBZ/CBNZ, TBZ/TBNZ */
        if ((w & 0xFF000000) == 0x54000000) return C_BRANCH; /* B.cond */
        if ((w & 0xFE000000) == 0xD6000000) return C_BRANCH; /* BR, BLR, RET */
    }
    return C_OTHER;
}

/* ------------------------------------------------------------------ counters */

#define MAX_PHASES 16

/* Counters of one symbol; never freed or moved, blocks point into live[]. */
typedef struct sym_count {
    const char *name;
    uint64_t live[N_CLASS];             /* added to by the translated code */
    uint64_t snap[MAX_PHASES][N_CLASS]; /* live[] at the end of each phase */
} sym_count;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static sym_count **table; /* open addressing on the name pointer */
static size_t table_cap, table_n;
static int n_phase; /* phases ended so far */
static int dropped_marks;
static const char *out_path, *blocks_path;

/* One translated block (blocks=); never freed or moved. */
typedef struct block_count {
    uint64_t vaddr;
    const char *name;
    uint32_t n_insns;
    uint64_t live, snap[MAX_PHASES];
} block_count;
static block_count **blocks;
static size_t blocks_n, blocks_cap;

/* Called with lock held. */
static block_count *block_new(uint64_t vaddr, size_t n, const char *name) {
    if (blocks_n == blocks_cap) {
        size_t cap = blocks_cap ? blocks_cap * 2 : 4096;
        block_count **b = realloc(blocks, cap * sizeof *b);
        if (!b) return NULL;
        blocks = b, blocks_cap = cap;
    }
    block_count *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->vaddr = vaddr, b->n_insns = (uint32_t)n, b->name = name;
    return blocks[blocks_n++] = b;
}

static size_t slot_of(const char *name) {
    uintptr_t h = (uintptr_t)name;
    h ^= h >> 17;
    h *= 0x9E3779B97F4A7C15ULL;
    return (size_t)(h >> 7) & (table_cap - 1);
}

static int table_grow(void) {
    size_t cap = table_cap ? table_cap * 2 : 1024;
    sym_count **old = table;
    size_t old_cap = table_cap;
    table = calloc(cap, sizeof *table);
    if (!table) { table = old; return -1; }
    table_cap = cap;
    for (size_t i = 0; i < old_cap; i++) {
        if (!old[i]) continue;
        size_t s = slot_of(old[i]->name);
        while (table[s]) s = (s + 1) & (cap - 1);
        table[s] = old[i];
    }
    free(old);
    return 0;
}

/* Called with lock held. NULL only when out of memory. */
static sym_count *sym_get(const char *name) {
    if ((table_n + 1) * 2 > table_cap && table_grow()) return NULL;
    size_t s = slot_of(name);
    while (table[s] && table[s]->name != name) s = (s + 1) & (table_cap - 1);
    if (!table[s]) {
        table[s] = calloc(1, sizeof **table);
        if (!table[s]) return NULL;
        table[s]->name = name;
        table_n++;
    }
    return table[s];
}

static void vcpu_tb_trans(qemu_plugin_id_t id, struct qemu_plugin_tb *tb) {
    (void)id;
    /* (symbol, class) groups of this block; a block rarely spans symbols */
    enum { MAX_GROUPS = 32 };
    sym_count *gs[MAX_GROUPS];
    int gc[MAX_GROUPS];
    uint64_t gn[MAX_GROUPS];
    int n_groups = 0;
    size_t n = qemu_plugin_tb_n_insns(tb);
    pthread_mutex_lock(&lock);
    if (blocks_path && n) {
        const char *name = qemu_plugin_insn_symbol(qemu_plugin_tb_get_insn(tb, 0));
        block_count *b = block_new(qemu_plugin_tb_vaddr(tb), n, name ? name : "?");
        if (b) qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &b->live, 1);
    }
    for (size_t i = 0; i < n; i++) {
        const struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        uint32_t w = 0;
        if (qemu_plugin_insn_size(insn) == 4) memcpy(&w, qemu_plugin_insn_data(insn), 4);
        int c = classify(w);
        const char *name = qemu_plugin_insn_symbol(insn);
        sym_count *sc = sym_get(name ? name : "?");
        if (!sc) continue;
        int g = 0;
        while (g < n_groups && (gs[g] != sc || gc[g] != c)) g++;
        if (g == n_groups) {
            if (n_groups == MAX_GROUPS) { /* flush: register what we have */
                for (int k = 0; k < n_groups; k++)
                    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                                             &gs[k]->live[gc[k]], gn[k]);
                n_groups = g = 0;
            }
            gs[g] = sc, gc[g] = c, gn[g] = 0;
            n_groups++;
        }
        gn[g]++;
    }
    pthread_mutex_unlock(&lock);
    for (int k = 0; k < n_groups; k++)
        qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64,
                                                 &gs[k]->live[gc[k]], gn[k]);
}

/* Called with lock held: live counters become the end of phase n_phase. */
static void phase_end(void) {
    for (size_t i = 0; i < table_cap; i++)
        if (table[i]) memcpy(table[i]->snap[n_phase], table[i]->live, sizeof table[i]->live);
    for (size_t i = 0; i < blocks_n; i++) blocks[i]->snap[n_phase] = blocks[i]->live;
    n_phase++;
}

static void vcpu_syscall(qemu_plugin_id_t id, unsigned int vcpu, int64_t num, uint64_t a1,
                         uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
                         uint64_t a7, uint64_t a8) {
    (void)id, (void)vcpu, (void)a2, (void)a3, (void)a4, (void)a5, (void)a6, (void)a7, (void)a8;
    if (num != PE_MARK_NR || a1 != PE_MARK_MAGIC) return;
    pthread_mutex_lock(&lock);
    if (n_phase < MAX_PHASES - 1) phase_end();
    else dropped_marks++;
    pthread_mutex_unlock(&lock);
}

/* Counts of s in phase p. */
static void phase_counts(const sym_count *s, int p, uint64_t *c) {
    for (int k = 0; k < N_CLASS; k++) c[k] = s->snap[p][k] - (p ? s->snap[p - 1][k] : 0);
}

static uint64_t sum(const uint64_t *c) {
    uint64_t t = 0;
    for (int k = 0; k < N_CLASS; k++) t += c[k];
    return t;
}

typedef struct {
    const sym_count *s;
    uint64_t total;
} ranked;

static int cmp_ranked(const void *a, const void *b) {
    const ranked *x = a, *y = b;
    if (x->total != y->total) return x->total < y->total ? 1 : -1;
    return strcmp(x->s->name, y->s->name);
}

static void put_row(FILE *f, int p, const char *name, const uint64_t *c) {
    fprintf(f, "%d\t%s\t%" PRIu64, p, name, sum(c));
    for (int k = 0; k < N_CLASS; k++) fprintf(f, "\t%" PRIu64, c[k]);
    fputc('\n', f);
}

static void write_report(FILE *f) {
    fputs("# phase\tsymbol\ttotal", f);
    for (int k = 0; k < N_CLASS; k++) fprintf(f, "\t%s", class_name[k]);
    fputc('\n', f);
    if (dropped_marks) fprintf(f, "# %d phase marks past the %d-th ignored\n", dropped_marks, MAX_PHASES);
    ranked *r = calloc(table_n ? table_n : 1, sizeof *r);
    if (!r) { fputs("# out of memory\n", f); return; }
    for (int p = 0; p < n_phase; p++) {
        size_t n = 0;
        uint64_t tot[N_CLASS] = {0}, c[N_CLASS];
        for (size_t i = 0; i < table_cap; i++) {
            if (!table[i]) continue;
            phase_counts(table[i], p, c);
            for (int k = 0; k < N_CLASS; k++) tot[k] += c[k];
            if (sum(c)) r[n++] = (ranked){table[i], sum(c)};
        }
        put_row(f, p, "*", tot);
        qsort(r, n, sizeof *r, cmp_ranked);
        for (size_t i = 0; i < n; i++) {
            phase_counts(r[i].s, p, c);
            put_row(f, p, r[i].s->name, c);
        }
    }
    free(r);
}

/* Instructions the block ran in the phase being written. */
static int blocks_phase;
static uint64_t block_insns(const block_count *b) {
    int p = blocks_phase;
    return (b->snap[p] - (p ? b->snap[p - 1] : 0)) * b->n_insns;
}

static int cmp_block(const void *a, const void *b) {
    const block_count *x = *(const block_count *const *)a, *y = *(const block_count *const *)b;
    uint64_t u = block_insns(x), v = block_insns(y);
    if (u != v) return u < v ? 1 : -1;
    return x->vaddr < y->vaddr ? -1 : x->vaddr > y->vaddr;
}

/* A block translated again (after a flush) is listed once per translation. */
static void write_blocks(FILE *f) {
    fputs("# phase\tvaddr\tinstructions\texecutions\tsymbol\n", f);
    for (int p = 0; p < n_phase; p++) {
        blocks_phase = p;
        qsort(blocks, blocks_n, sizeof *blocks, cmp_block);
        for (size_t i = 0; i < blocks_n && block_insns(blocks[i]); i++) {
            const block_count *b = blocks[i];
            fprintf(f, "%d\t%" PRIx64 "\t%u\t%" PRIu64 "\t%s\n", p, b->vaddr, b->n_insns,
                    b->snap[p] - (p ? b->snap[p - 1] : 0), b->name);
        }
    }
}

static void at_exit(qemu_plugin_id_t id, void *userdata) {
    (void)id, (void)userdata;
    pthread_mutex_lock(&lock);
    phase_end();
    FILE *f = out_path ? fopen(out_path, "w") : NULL;
    if (f) {
        write_report(f);
        fclose(f);
    } else {
        /* through QEMU's log, one line at a time */
        char *buf = NULL;
        size_t len = 0;
        FILE *m = open_memstream(&buf, &len);
        if (m) {
            if (out_path) fprintf(m, "# insncount: cannot write %s\n", out_path);
            write_report(m);
            fclose(m);
            qemu_plugin_outs(buf);
            free(buf);
        }
    }
    if (blocks_path) {
        FILE *b = fopen(blocks_path, "w");
        if (b) {
            write_blocks(b);
            fclose(b);
        } else {
            qemu_plugin_outs("insncount: cannot write the blocks= file\n");
        }
    }
    pthread_mutex_unlock(&lock);
}

QEMU_PLUGIN_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t *info,
                                           int argc, char **argv) {
    if (strcmp(info->target_name, "aarch64") != 0) {
        qemu_plugin_outs("insncount: decodes AArch64 only\n");
        return -1;
    }
    for (int i = 0; i < argc; i++) {
        if (!strncmp(argv[i], "out=", 4)) out_path = argv[i] + 4;
        else if (!strncmp(argv[i], "blocks=", 7)) blocks_path = argv[i] + 7;
        else {
            qemu_plugin_outs("insncount: unknown option (expected out=FILE or blocks=FILE)\n");
            return -1;
        }
    }
    if (table_grow()) return -1;
    qemu_plugin_register_vcpu_tb_trans_cb(id, vcpu_tb_trans);
    qemu_plugin_register_vcpu_syscall_cb(id, vcpu_syscall);
    qemu_plugin_register_atexit_cb(id, at_exit, NULL);
    return 0;
}
