/* The CLIP tokenizer: ids against the reference (golden tokenizer.json and
 * the manifest's text cases), the cleaning steps one by one, limits, broken
 * vocabulary files, and concurrent use of one tokenizer. */
#include "pecore.h"
#include "text/tokenizer.h"
#include "util/json.h"

#include "test.h"

#include <pthread.h>
#include <stdint.h>
#include <unistd.h>
#include <zlib.h>

static int tokenize_cmp(const pe_tokenizer *t, const char *text, const pe_json *ids,
                        const char *what) {
    int ctx = (int)ids->n;
    int32_t *got = calloc((size_t)ctx, sizeof *got);
    pe_status st = pe_tokenize(t, text, ctx, got);
    int bad = st != PE_OK;
    for (int i = 0; i < ctx && !bad; i++) {
        int64_t want;
        if (!pe_json_i64(&ids->items[i], &want) || want != got[i]) {
            fprintf(stderr, "  %s: slot %d: got %d want %lld\n", what, i, got[i],
                    (long long)want);
            bad = 1;
        }
    }
    CHECK(!bad, "%s: ids differ for \"%s\" (ctx %d, %s)", what, text, ctx,
          st == PE_OK ? "ok" : pe_last_error());
    free(got);
    return !bad;
}

static void test_golden_file(const pe_tokenizer *t) {
    char path[1024];
    golden_path(path, sizeof path, "tokenizer.json");
    size_t len;
    char *txt = test_read_file(path, &len);
    CHECK(txt != NULL, "cannot read %s", path);
    if (!txt) return;
    pe_json *j = NULL;
    CHECK(pe_json_parse(txt, len, &j) == PE_OK, "tokenizer.json: %s", pe_last_error());
    int cases = 0, passed = 0;
    for (size_t i = 0; j && j->type == PE_JSON_ARRAY && i < j->n; i++) {
        const pe_json *text = pe_json_get(&j->items[i], "text");
        const pe_json *ids = pe_json_get(&j->items[i], "ids");
        const pe_json *ctx = pe_json_get(&j->items[i], "context_length");
        int64_t c = 0;
        CHECK(text && ids && ctx && pe_json_i64(ctx, &c) && (int64_t)ids->n == c,
              "tokenizer.json case %zu malformed", i);
        if (!text || !ids) continue;
        cases++;
        passed += tokenize_cmp(t, text->raw, ids, "tokenizer.json");
    }
    CHECK(cases >= 30, "tokenizer.json: only %d cases", cases);
    printf("tokenizer.json: %d/%d cases match\n", passed, cases);
    pe_json_free(j);
    free(txt);
}

static void test_manifest(const pe_tokenizer *t) {
    char path[1024];
    golden_path(path, sizeof path, "manifest.json");
    size_t len;
    char *txt = test_read_file(path, &len);
    CHECK(txt != NULL, "cannot read %s", path);
    if (!txt) return;
    pe_json *j = NULL;
    CHECK(pe_json_parse(txt, len, &j) == PE_OK, "manifest.json: %s", pe_last_error());
    const pe_json *cases = j ? pe_json_get(j, "cases") : NULL;
    int n = 0;
    for (size_t i = 0; cases && i < cases->n; i++) {
        const pe_json *kind = pe_json_get(&cases->items[i], "kind");
        const pe_json *texts = pe_json_get(&cases->items[i], "texts");
        const pe_json *ids = pe_json_get(&cases->items[i], "ids");
        if (!kind || strcmp(kind->raw, "text") != 0 || !texts || !ids) continue;
        CHECK(texts->n == ids->n, "manifest text case: %zu texts, %zu id rows", texts->n, ids->n);
        for (size_t k = 0; k < texts->n && k < ids->n; k++, n++)
            tokenize_cmp(t, texts->items[k].raw, &ids->items[k], "manifest");
    }
    CHECK(n > 0, "manifest: no text case with ids");
    pe_json_free(j);
    free(txt);
}

/* ---------------------------------------------------------------- cleaning */

static void expect_clean(const char *in, const char *want) {
    char *got = NULL;
    pe_status st = pe_text_clean(in, strlen(in), &got, NULL);
    CHECK(st == PE_OK && strcmp(got, want) == 0, "clean(\"%s\") = \"%s\", want \"%s\"", in,
          got ? got : pe_last_error(), want);
    free(got);
}

static void test_cleaning(void) {
    /* whitespace, case */
    expect_clean("", "");
    expect_clean(" \t\n\r\v\f ", "");
    expect_clean("  A\t\tB \n C  ", "a b c");
    expect_clean("a\xC2\xA0" "b\xE3\x80\x80" "c\xE2\x80\xA8" "d", "a b c d");
    expect_clean("\xC4\xB0stanbul", "i\xCC\x87stanbul");          /* İ -> i + dot */
    /* final sigma */
    expect_clean("\xCE\x9F\xCE\x94\xCE\x9F\xCE\xA3", "\xCE\xBF\xCE\xB4\xCE\xBF\xCF\x82");
    expect_clean("\xCE\xA3\xCE\x91", "\xCF\x83\xCE\xB1");
    /* HTML: ftfy (repeatedly) then html.unescape twice */
    expect_clean("&amp;amp;amp;amp;", "&");
    expect_clean("&#x41;&#66;&#X43;&eacute;", "abc\xC3\xA9");
    expect_clean("&lt;b&gt; &quot;q&quot; &copy", "<b> \"q\" \xC2\xA9");
    expect_clean("&#128; &#0; &#xD800; &#1;x", "\xE2\x82\xAC \xEF\xBF\xBD \xEF\xBF\xBD x");
    expect_clean("P&EACUTE;REZ BUNDESSTRA&SZLIG;E", "p\xC3\xA9rez bundesstrasse");
    expect_clean("&ntilde; &Ntilde; &NTILDE; &nTILDE;", "\xC3\xB1 \xC3\xB1 \xC3\xB1 &ntilde;");
    expect_clean("&notit; &unknown; & amp;", "\xC2\xACit; &unknown; & amp;");
    expect_clean("<em>HTML entities &lt;3</em>", "<em>html entities <3</em>");
    /* ftfy: quotes, width, ligatures, controls, escapes, line breaks */
    expect_clean("\xE2\x80\x9Chere\xE2\x80\x99s a test\xE2\x80\x9D", "\"here's a test\"");
    expect_clean("\xEF\xBC\xAC\xEF\xBC\xAF\xEF\xBC\xB5\xEF\xBC\xA4\xE3\x80\x80"
                 "\xEF\xBC\xAE\xEF\xBC\xAF\xEF\xBC\xA9\xEF\xBC\xB3\xEF\xBC\xA5\xEF\xBC\xB3",
                 "loud noises");
    expect_clean("\xEF\xBC\xB5\xEF\xBE\x80\xEF\xBD\xB0\xEF\xBE\x9D",
                 "u\xE3\x82\xBF\xE3\x83\xBC\xE3\x83\xB3"); /* Ｕﾀｰﾝ -> uターン */
    expect_clean("Broken text&hellip; it&#x2019;s \xEF\xAC\x82ubberi\xEF\xAC\x81" "c!",
                 "broken text\xE2\x80\xA6 it's flubberific!");
    expect_clean("\xEF\xBB\xBFParty like\nit&rsquo;s 1999!", "party like it's 1999!");
    expect_clean("a\x01\x7F" "b\xE2\x81\xAA" "c\xEF\xBF\xBC", "abc");
    expect_clean("\x1B[36;44mI'm blue\x1B[0m", "i'm blue");
    expect_clean("e\xCC\x81" "t\xC3\xA9", "\xC3\xA9t\xC3\xA9"); /* NFC */
    /* ftfy: mojibake */
    expect_clean("caf\xC3\x83\xC2\xA9 mojibake", "caf\xC3\xA9 mojibake");
    expect_clean("sch\xC3\x83\xC2\xB6n", "sch\xC3\xB6n");
    expect_clean("\xC3\xA2\xC5\x93\xE2\x80\x9D No problems", "\xE2\x9C\x94 no problems");
    expect_clean("&macr;\\_(\xC3\xA3\xC2\x83\xC2\x84)_/&macr;",
                 "\xC2\xAF\\_(\xE3\x83\x84)_/\xC2\xAF");
    expect_clean("voil\xC3\x83 le travail", "voil\xC3\xA0 le travail"); /* restore_byte_a0 */
    expect_clean("caf\xC3\xA9 caf\xC3\x83\xC2\xA9", "caf\xC3\xA9 caf\xC3\xA9"); /* inconsistent */
    expect_clean("This text was never UTF-8 at all\xC2\x85",
                 "this text was never utf-8 at all\xE2\x80\xA6");
    expect_clean("\xC3\xA2\xE2\x82\xAC\xC5\x93 like this \xC3\xA2\xE2\x82\xAC\xEF\xBF\xBD",
                 "\" like this \xEF\xBF\xBD"); /* replace_lossy_sequences */
    /* text that only looks odd stays as it is */
    expect_clean("not such a fan of Charlotte Bront\xC3\xAB\xE2\x80\xA6\xE2\x80\x9D",
                 "not such a fan of charlotte bront\xC3\xAB\xE2\x80\xA6\"");
    expect_clean("This text is fine already :\xC3\xBE", "this text is fine already :\xC3\xBE");
    /* invalid UTF-8: one U+FFFD per maximal invalid subpart (Python's rule) */
    expect_clean("a\xFF" "b\xE2\x82" "c\xE0\x80" "d\xED\xA0\x80",
                 "a\xEF\xBF\xBD" "b\xEF\xBF\xBD" "c\xEF\xBF\xBD\xEF\xBF\xBD"
                 "d\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
}

/* ---------------------------------------------------------------- ids */

static void tok(const pe_tokenizer *t, const char *s, int ctx, int32_t *ids) {
    pe_status st = pe_tokenize(t, s, ctx, ids);
    CHECK(st == PE_OK, "pe_tokenize(\"%s\", %d): %s", s, ctx, pe_last_error());
}

static void test_ids(const pe_tokenizer *t) {
    int32_t a[77], b[77];
    tok(t, "", 77, a);
    CHECK(a[0] == PE_TOKEN_SOT && a[1] == PE_TOKEN_EOT && a[2] == 0 && a[76] == 0, "empty");
    tok(t, "  \t \n  ", 77, b);
    CHECK(memcmp(a, b, sizeof a) == 0, "only spaces = empty");

    /* truncation: sot, 75 x "a", eot */
    char *longtext = malloc(2 * 1000 + 1);
    for (int i = 0; i < 1000; i++) memcpy(longtext + 2 * i, "a ", 2);
    longtext[2000] = 0;
    tok(t, longtext, 77, a);
    int ok = a[0] == PE_TOKEN_SOT && a[76] == PE_TOKEN_EOT;
    for (int i = 1; i < 76; i++) ok &= a[i] == 320;
    CHECK(ok, "long text truncated with eot last");
    free(longtext);
    /* exactly full: 75 words fit with eot; 76 words need truncation */
    char words[2 * 80 + 1];
    for (int n = 74; n <= 76; n++) {
        for (int i = 0; i < n; i++) memcpy(words + 2 * i, "a ", 2);
        words[2 * n] = 0;
        tok(t, words, 77, a);
        CHECK(a[76] == PE_TOKEN_EOT || (n == 74 && a[75] == PE_TOKEN_EOT && a[76] == 0),
              "%d words: eot placement", n);
    }

    tok(t, "a photo of a cat", 2, a);
    CHECK(a[0] == PE_TOKEN_SOT && a[1] == PE_TOKEN_EOT, "context_len 2");
    tok(t, "", 2, a);
    CHECK(a[0] == PE_TOKEN_SOT && a[1] == PE_TOKEN_EOT, "context_len 2, empty");
    tok(t, "a photo of a cat", 3, a);
    CHECK(a[1] == 320 && a[2] == PE_TOKEN_EOT, "context_len 3");
    CHECK(pe_tokenize(t, "x", 1, a) == PE_ERR_INVALID_ARG, "context_len 1");
    CHECK(pe_tokenize(t, "x", 0, a) == PE_ERR_INVALID_ARG, "context_len 0");
    CHECK(pe_tokenize(t, "x", -5, a) == PE_ERR_INVALID_ARG, "context_len < 0");
    CHECK(pe_tokenize(t, NULL, 8, a) == PE_ERR_INVALID_ARG, "NULL text");
    CHECK(pe_tokenize(NULL, "x", 8, a) == PE_ERR_INVALID_ARG, "NULL tokenizer");
    CHECK(pe_tokenize(t, "x", 8, NULL) == PE_ERR_INVALID_ARG, "NULL ids");

    /* invalid UTF-8 tokenizes as U+FFFD */
    tok(t, "caf\xFF", 16, a);
    tok(t, "caf\xEF\xBF\xBD", 16, b);
    CHECK(memcmp(a, b, 16 * sizeof *a) == 0, "invalid byte -> U+FFFD");
    tok(t, "\xE2\x82", 16, a);
    tok(t, "\xEF\xBF\xBD", 16, b);
    CHECK(memcmp(a, b, 16 * sizeof *a) == 0, "truncated sequence -> one U+FFFD");

    /* cleaning reaches the ids */
    tok(t, "&amp; html &lt;entities&gt;", 16, a);
    tok(t, "& html <entities>", 16, b);
    CHECK(memcmp(a, b, 16 * sizeof *a) == 0, "html entities");
    tok(t, "\xE2\x80\x9C" "dog\xE2\x80\x99s\xE2\x80\x9D", 16, a);
    tok(t, "\"dog's\"", 16, b);
    CHECK(memcmp(a, b, 16 * sizeof *a) == 0, "curly quotes");
    tok(t, "\xEF\xBC\xA4\xEF\xBC\xAF\xEF\xBC\xA7", 16, a);
    tok(t, "dog", 16, b);
    CHECK(memcmp(a, b, 16 * sizeof *a) == 0 && a[1] == 1929, "full-width");
    /* special tokens written in the text are kept whole */
    tok(t, "<start_of_text>a<end_of_text>", 8, a);
    CHECK(a[1] == PE_TOKEN_SOT && a[2] == 320 && a[3] == PE_TOKEN_EOT && a[4] == PE_TOKEN_EOT,
          "special tokens in text");

    /* size limit */
    char *huge = malloc(PE_TOKENIZER_MAX_TEXT + 2);
    memset(huge, 'a', PE_TOKENIZER_MAX_TEXT + 1);
    huge[PE_TOKENIZER_MAX_TEXT + 1] = 0;
    CHECK(pe_tokenize(t, huge, 8, a) == PE_ERR_LIMIT, "text over the limit");
    huge[PE_TOKENIZER_MAX_TEXT] = 0; /* at the limit: one long word, BPE must stay fast */
    tok(t, huge, 8, a);
    CHECK(a[0] == PE_TOKEN_SOT && a[7] == PE_TOKEN_EOT, "1 MiB word");
    free(huge);
}

/* ---------------------------------------------------------------- threads */

typedef struct thread_arg {
    const pe_tokenizer *t;
    const char *const *texts;
    int n;
    const int32_t *want; /* [n, 77] */
    int mismatches;
} thread_arg;

static void *thread_main(void *p) {
    thread_arg *a = p;
    int32_t ids[77];
    for (int rep = 0; rep < 20; rep++)
        for (int i = 0; i < a->n; i++) {
            if (pe_tokenize(a->t, a->texts[i], 77, ids) != PE_OK ||
                memcmp(ids, a->want + 77 * i, sizeof ids) != 0)
                a->mismatches++;
        }
    return NULL;
}

static void test_threads(const pe_tokenizer *t) {
    static const char *const texts[] = {
        "a photo of a cat", "it's a dog's life, isn't it?", "caf\xC3\x83\xC2\xA9 mojibake",
        "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E", "&amp; html &lt;entities&gt;",
        "numbers 12345 and 3.14159", "\xF0\x9F\x90\xB1 cat emoji"};
    enum { NT = sizeof texts / sizeof texts[0] };
    int32_t want[NT * 77];
    for (int i = 0; i < NT; i++) tok(t, texts[i], 77, want + 77 * i);
    pthread_t th[4];
    thread_arg args[4];
    for (int k = 0; k < 4; k++) {
        args[k] = (thread_arg){t, texts, NT, want, 0};
#if defined(__EMSCRIPTEN__) && !defined(__EMSCRIPTEN_PTHREADS__)
        /* single-threaded WebAssembly: the four runs one after another */
        (void)th;
        thread_main(&args[k]);
#else
        CHECK(pthread_create(&th[k], NULL, thread_main, &args[k]) == 0, "pthread_create");
#endif
    }
    for (int k = 0; k < 4; k++) {
#if !defined(__EMSCRIPTEN__) || defined(__EMSCRIPTEN_PTHREADS__)
        pthread_join(th[k], NULL);
#endif
        CHECK(args[k].mismatches == 0, "thread %d: %d mismatches", k, args[k].mismatches);
    }
}

/* ---------------------------------------------------------------- broken vocabularies */

static unsigned char *gzip_bytes(const void *src, size_t n, size_t *out_len) {
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (deflateInit2(&zs, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return NULL;
    size_t cap = deflateBound(&zs, (uLong)n) + 64;
    unsigned char *out = malloc(cap);
    zs.next_in = (Bytef *)(uintptr_t)src;
    zs.avail_in = (uInt)n;
    zs.next_out = out;
    zs.avail_out = (uInt)cap;
    deflate(&zs, Z_FINISH);
    *out_len = cap - zs.avail_out;
    deflateEnd(&zs);
    return out;
}

static void expect_load_fail(const void *gz, size_t n, pe_status want, const char *what) {
    pe_tokenizer *t = (pe_tokenizer *)(uintptr_t)1;
    pe_status st = pe_tokenizer_load_mem(gz, n, &t);
    CHECK(st == want && t == NULL && pe_last_error()[0], "%s: got %s (%s), want %s", what,
          pe_status_string(st), pe_last_error(), pe_status_string(want));
}

static void test_broken(const char *vocab_path) {
    pe_tokenizer *t = NULL;
    CHECK(pe_tokenizer_load("/nonexistent/dir/vocab.txt.gz", &t) == PE_ERR_IO && !t,
          "missing file");
    CHECK(pe_tokenizer_load(NULL, &t) == PE_ERR_INVALID_ARG, "NULL path");
    CHECK(pe_tokenizer_load_mem(NULL, 0, &t) == PE_ERR_INVALID_ARG, "NULL data");
    pe_tokenizer_free(NULL);

    size_t n;
    char *gz = test_read_file(vocab_path, &n);
    CHECK(gz && n > 1000, "read %s", vocab_path);
    if (!gz) return;
    expect_load_fail(gz, n / 2, PE_ERR_FORMAT, "truncated gzip");
    expect_load_fail(gz + 10, n - 10, PE_ERR_FORMAT, "gzip without its header");
    char *flipped = malloc(n);
    memcpy(flipped, gz, n);
    for (size_t i = 100; i < 200; i++) flipped[i] ^= 0x5A;
    expect_load_fail(flipped, n, PE_ERR_FORMAT, "corrupt deflate data");
    free(flipped);
    expect_load_fail("not gzip at all", 15, PE_ERR_FORMAT, "not gzip");

    /* a truncated copy on disk, in a temporary directory */
    char dir[] = "/tmp/pe_tok_XXXXXX";
    if (mkdtemp(dir)) {
        char path[64];
        snprintf(path, sizeof path, "%s/vocab.txt.gz", dir);
        FILE *f = fopen(path, "wb");
        fwrite(gz, 1, n - 100, f);
        fclose(f);
        CHECK(pe_tokenizer_load(path, &t) == PE_ERR_FORMAT && !t, "truncated file: %s",
              pe_last_error());
        CHECK(strstr(pe_last_error(), path) != NULL, "error names the file: %s",
              pe_last_error());
        f = fopen(path, "wb");
        fclose(f);
        CHECK(pe_tokenizer_load(path, &t) == PE_ERR_FORMAT && !t, "empty file");
        remove(path);
        rmdir(dir);
    } else {
        CHECK(0, "mkdtemp");
    }
    free(gz);

    /* well-formed gzip, malformed contents */
    static const char *const bodies[] = {
        "no newline at all", "header\n", "header\ni n\nt h\n", "header\ni n x\n",
        "header\ni  n\n", "header\nin\n", "header\ni \n", "header\ni\tn\n", "header\ni \xFF\n"};
    for (size_t k = 0; k < sizeof bodies / sizeof bodies[0]; k++) {
        size_t zn;
        unsigned char *z = gzip_bytes(bodies[k], strlen(bodies[k]), &zn);
        expect_load_fail(z, zn, PE_ERR_FORMAT, bodies[k]);
        free(z);
    }
    /* a decompression bomb: 20 MiB of zeros */
    size_t big = (size_t)20 << 20, zn;
    char *zeros = calloc(big, 1);
    unsigned char *z = gzip_bytes(zeros, big, &zn);
    expect_load_fail(z, zn, PE_ERR_LIMIT, "20 MiB of zeros");
    free(z);
    free(zeros);
}

int main(void) {
    char vocab[1024];
    golden_path(vocab, sizeof vocab, "bpe_simple_vocab_16e6.txt.gz");
    pe_tokenizer *t = NULL;
    pe_status st = pe_tokenizer_load(vocab, &t);
    CHECK(st == PE_OK && t, "load %s: %s", vocab, pe_last_error());
    test_cleaning();
    if (t) {
        test_golden_file(t);
        test_manifest(t);
        test_ids(t);
        test_threads(t);
    }
    test_broken(vocab);
    pe_tokenizer_free(t);
    return test_done("test_tokenizer");
}
