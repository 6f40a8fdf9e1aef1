/* The strict JSON reader: valid documents, every class of invalid one, the
 * depth bound, escapes and exact integer extraction. */
#include "test.h"
#include "util/json.h"

static pe_status parse(const char *text, pe_json **out) {
    return pe_json_parse(text, strlen(text), out);
}

static void expect_ok(const char *text, int line) {
    pe_json *j = NULL;
    const pe_status st = parse(text, &j);
    CHECK(st == PE_OK && j, "line %d: '%s' refused: %s", line, text, pe_last_error());
    pe_json_free(j);
}

/* Refused with status st and a message containing words. */
static void expect_bad(const char *text, size_t len, pe_status st, const char *words, int line) {
    pe_json *j = (pe_json *)1;
    pe_error_clear();
    const pe_status got = pe_json_parse(text, len, &j);
    CHECK(got == st, "line %d: status %d, want %d (%s)", line, (int)got, (int)st, pe_last_error());
    CHECK(j == NULL, "line %d: *out not cleared on failure", line);
    CHECK(strstr(pe_last_error(), words) != NULL, "line %d: message '%s' lacks '%s'", line,
          pe_last_error(), words);
    CHECK(strstr(pe_last_error(), "json: ") == pe_last_error(), "line %d: message '%s'", line,
          pe_last_error());
}

#define OK(t) expect_ok(t, __LINE__)
#define BAD(t, words) expect_bad(t, strlen(t), PE_ERR_FORMAT, words, __LINE__)

static void test_valid(void) {
    OK("0");
    OK("-0");
    OK("  true ");
    OK("false");
    OK("null");
    OK("\"\"");
    OK("[]");
    OK("{}");
    OK(" [ 1 , 2.5 , -3e2 , 4E+1 , 5e-1 , 0.0 ] ");
    OK("{\"a\":{\"b\":[null,true,{}]},\"c\":\"d\"}");
    OK("\t\r\n[\n]\n");
    OK("1e-400"); /* underflows to 0: allowed */
    OK("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"");

    pe_json *j = NULL;
    const char *doc = "{\"name\": \"x\", \"n\": [1, 2, 3], \"f\": -1.5e1, \"t\": true, \"z\": null}";
    CHECK(parse(doc, &j) == PE_OK, "%s", pe_last_error());
    if (!j) return;
    CHECK(j->type == PE_JSON_OBJECT && j->n == 5, "object of 5");
    const pe_json *name = pe_json_get(j, "name");
    CHECK(name && name->type == PE_JSON_STRING && name->len == 1 && !strcmp(name->raw, "x"), "name");
    const pe_json *n = pe_json_get(j, "n");
    CHECK(n && n->type == PE_JSON_ARRAY && n->n == 3 && n->items[2].number == 3, "array");
    const pe_json *f = pe_json_get(j, "f");
    CHECK(f && f->type == PE_JSON_NUMBER && f->number == -15.0, "number -15");
    CHECK(f && f->len == 6 && !strcmp(f->raw, "-1.5e1"), "raw text kept");
    const pe_json *t = pe_json_get(j, "t");
    CHECK(t && t->type == PE_JSON_BOOL && t->boolean == 1, "bool");
    CHECK(pe_json_get(j, "z") && pe_json_get(j, "z")->type == PE_JSON_NULL, "null");
    CHECK(pe_json_get(j, "missing") == NULL, "missing key");
    CHECK(pe_json_get(n, "x") == NULL, "get on an array");
    CHECK(pe_json_get(NULL, "x") == NULL, "get on NULL");
    CHECK(!strcmp(j->keys[0].raw, "name") && !strcmp(j->keys[4].raw, "z"), "key order kept");
    pe_json_free(j);
    pe_json_free(NULL);

    /* Numbers: exact for large integers, strtod for the rest. */
    CHECK(parse("[123456789012345, 0.1, 1e300, -2.5e-3]", &j) == PE_OK, "%s", pe_last_error());
    if (j) {
        CHECK(j->items[0].number == 123456789012345.0, "exact integer");
        CHECK(j->items[1].number == 0.1, "0.1");
        CHECK(j->items[2].number == 1e300, "1e300");
        CHECK(j->items[3].number == -2.5e-3, "-2.5e-3");
        pe_json_free(j);
    }
}

static void test_invalid(void) {
    BAD("", "value expected");
    BAD("   ", "value expected");
    BAD("[1,]", "unexpected character");
    BAD("[,1]", "unexpected character");
    BAD("{\"a\":1,}", "key (string) expected");
    BAD("{\"a\" 1}", "':' expected");
    BAD("{a:1}", "key (string) expected");
    BAD("{1:1}", "key (string) expected");
    BAD("[1 2]", "',' or ']' expected");
    BAD("{\"a\":1 \"b\":2}", "',' or '}' expected");
    BAD("[1", "unterminated array");
    BAD("{\"a\":1", "unterminated object");
    BAD("\"abc", "unterminated string");
    BAD("\"abc\\", "unterminated string");
    BAD("1 2", "trailing characters");
    BAD("{} x", "trailing characters");
    BAD("[] ]", "trailing characters");
    BAD("01", "leading zero");
    BAD("-01", "leading zero");
    BAD("00", "leading zero");
    BAD("+1", "unexpected character");
    BAD("-", "invalid number");
    BAD(".5", "unexpected character");
    BAD("1.", "digit expected after '.'");
    BAD("1.e3", "digit expected after '.'");
    BAD("1e", "digit expected in exponent");
    BAD("1e+", "digit expected in exponent");
    BAD("1e999", "number out of range");
    BAD("-1e999", "number out of range");
    BAD("NaN", "unexpected character");
    BAD("Infinity", "unexpected character");
    BAD("tru", "unexpected character");
    BAD("nul", "unexpected character");
    BAD("True", "unexpected character");
    BAD("'a'", "unexpected character");
    BAD("\"a\tb\"", "control character");
    BAD("\"a\nb\"", "control character");
    BAD("\"\\x41\"", "invalid escape");
    BAD("\"\\'\"", "invalid escape");
    BAD("\"\\u12\"", "invalid \\u escape");
    BAD("\"\\u12G4\"", "invalid \\u escape");
    BAD("\"\\ud800\"", "lone high surrogate");
    BAD("\"\\ud800x\"", "lone high surrogate");
    BAD("\"\\ud800\\u0041\"", "lone high surrogate");
    BAD("\"\\ud800\\ud800\"", "lone high surrogate");
    BAD("\"\\udc00\"", "lone low surrogate");
    BAD("\"\\udfff\\ud800\"", "lone low surrogate");
    BAD("\"\xff\"", "invalid UTF-8");
    BAD("\"\xc0\xaf\"", "invalid UTF-8");             /* overlong '/' */
    BAD("\"\xe0\x80\xaf\"", "invalid UTF-8");         /* overlong */
    BAD("\"\xed\xa0\x80\"", "invalid UTF-8");         /* encoded surrogate */
    BAD("\"\xf4\x90\x80\x80\"", "invalid UTF-8");     /* > U+10FFFF */
    BAD("\"\xe2\x82\"", "invalid UTF-8");             /* truncated */
    BAD("\xef\xbb\xbf{}", "unexpected character");    /* BOM */
    BAD("{\"a\":1,\"b\":2,\"a\":3}", "duplicate key \"a\"");
    BAD("{\"x\":{\"k\":1,\"k\":1}}", "duplicate key \"k\"");
    /* Length is honoured: the NUL and what follows are not part of the input. */
    expect_bad("[1]", 2, PE_ERR_FORMAT, "unterminated array", __LINE__);
    expect_bad("[1]\0", 4, PE_ERR_FORMAT, "trailing characters", __LINE__);
    expect_bad("{\"a\":1}", 6, PE_ERR_FORMAT, "unterminated object", __LINE__);

    pe_json *j = (pe_json *)1;
    CHECK(pe_json_parse("1", 1, NULL) == PE_ERR_INVALID_ARG, "NULL out");
    CHECK(pe_json_parse(NULL, 3, &j) == PE_ERR_INVALID_ARG && j == NULL, "NULL text");
    CHECK(pe_json_parse(NULL, 0, &j) == PE_ERR_FORMAT, "empty input");
}

static void test_depth(void) {
    char buf[2 * (PE_JSON_MAX_DEPTH + 1) + 1];
    /* Exactly the limit is fine ... */
    memset(buf, '[', PE_JSON_MAX_DEPTH);
    memset(buf + PE_JSON_MAX_DEPTH, ']', PE_JSON_MAX_DEPTH);
    pe_json *j = NULL;
    CHECK(pe_json_parse(buf, 2 * PE_JSON_MAX_DEPTH, &j) == PE_OK, "depth %d: %s",
          PE_JSON_MAX_DEPTH, pe_last_error());
    pe_json_free(j);
    /* ... one more is not. */
    memset(buf, '[', PE_JSON_MAX_DEPTH + 1);
    memset(buf + PE_JSON_MAX_DEPTH + 1, ']', PE_JSON_MAX_DEPTH + 1);
    expect_bad(buf, 2 * (PE_JSON_MAX_DEPTH + 1), PE_ERR_LIMIT, "nesting deeper", __LINE__);

    /* A bomb of a million brackets (unterminated) must not blow the stack. */
    const size_t n = 1000000;
    char *bomb = malloc(n);
    if (!bomb) return;
    memset(bomb, '[', n);
    expect_bad(bomb, n, PE_ERR_LIMIT, "nesting deeper", __LINE__);
    for (size_t i = 0; i + 6 <= n; i += 6) memcpy(bomb + i, "{\"a\":[", 6);
    expect_bad(bomb, n - n % 6, PE_ERR_LIMIT, "nesting deeper", __LINE__);
    free(bomb);

    /* Width is not limited: many siblings are fine. */
    const size_t m = 100000;
    char *wide = malloc(2 * m + 2);
    if (!wide) return;
    wide[0] = '[';
    for (size_t i = 0; i < m; i++) wide[1 + 2 * i] = '0', wide[2 + 2 * i] = ',';
    wide[2 * m] = ']';
    CHECK(pe_json_parse(wide, 2 * m + 1, &j) == PE_OK && j && j->n == m, "wide array: %s",
          pe_last_error());
    pe_json_free(j);
    free(wide);
}

static void test_escapes(void) {
    pe_json *j = NULL;
    const char *doc = "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\\u0041\\u00e9\\u20AC\\ud83d\\ude00\\u0000z\"";
    CHECK(parse(doc, &j) == PE_OK, "escapes: %s", pe_last_error());
    if (!j) return;
    static const char want[] = "a\"b\\c/d\be\ff\ng\rh\tiA\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\0z";
    CHECK(j->type == PE_JSON_STRING && j->len == sizeof want - 1, "decoded length %zu", j->len);
    CHECK(memcmp(j->raw, want, sizeof want) == 0, "decoded bytes (incl. NUL terminator)");
    pe_json_free(j);

    /* Keys are decoded too, and a key holding NUL never matches a C string. */
    CHECK(parse("{\"\\u0061b\":1,\"c\\u0000d\":2}", &j) == PE_OK, "%s", pe_last_error());
    if (j) {
        CHECK(pe_json_get(j, "ab") && pe_json_get(j, "ab")->number == 1, "escaped key");
        CHECK(pe_json_get(j, "c") == NULL, "key with NUL does not match its prefix");
        pe_json_free(j);
    }
    /* Same key written two ways is still a duplicate. */
    BAD("{\"a\":1,\"\\u0061\":2}", "duplicate key");
}

static void test_u64(void) {
    static const struct { const char *text; int ok; uint64_t v; } cases[] = {
        {"0", 1, 0},
        {"1", 1, 1},
        {"4294967296", 1, 4294967296ull},
        {"9007199254740993", 1, 9007199254740993ull}, /* 2^53 + 1: not a double */
        {"18446744073709551615", 1, UINT64_MAX},
        {"18446744073709551616", 0, 0},               /* 2^64 */
        {"18446744073709551620", 0, 0},
        {"99999999999999999999", 0, 0},
        {"184467440737095516150", 0, 0},
        {"1e3", 0, 0},
        {"1.0", 0, 0},
        {"1E3", 0, 0},
        {"-0", 0, 0},
        {"-1", 0, 0},
        {"\"5\"", 0, 0},
        {"true", 0, 0},
        {"null", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pe_json *j = NULL;
        CHECK(parse(cases[i].text, &j) == PE_OK, "%s: %s", cases[i].text, pe_last_error());
        uint64_t v = 12345;
        const bool ok = pe_json_u64(j, &v);
        CHECK(ok == (cases[i].ok != 0), "u64(%s) = %d", cases[i].text, ok);
        if (cases[i].ok) CHECK(v == cases[i].v, "u64(%s) = %llu", cases[i].text,
                               (unsigned long long)v);
        else CHECK(v == 12345, "u64(%s) wrote the output on failure", cases[i].text);
        pe_json_free(j);
    }
    CHECK(!pe_json_u64(NULL, NULL), "u64(NULL)");

    static const struct { const char *text; int ok; int64_t v; } icases[] = {
        {"0", 1, 0},
        {"-0", 1, 0},
        {"-1", 1, -1},
        {"9223372036854775807", 1, INT64_MAX},
        {"-9223372036854775808", 1, INT64_MIN},
        {"9223372036854775808", 0, 0},
        {"-9223372036854775809", 0, 0},
        {"18446744073709551615", 0, 0},
        {"-1.0", 0, 0},
        {"2e1", 0, 0},
    };
    for (size_t i = 0; i < sizeof icases / sizeof icases[0]; i++) {
        pe_json *j = NULL;
        CHECK(parse(icases[i].text, &j) == PE_OK, "%s: %s", icases[i].text, pe_last_error());
        int64_t v = 12345;
        const bool ok = pe_json_i64(j, &v);
        CHECK(ok == (icases[i].ok != 0), "i64(%s) = %d", icases[i].text, ok);
        if (icases[i].ok) CHECK(v == icases[i].v, "i64(%s) = %lld", icases[i].text, (long long)v);
        pe_json_free(j);
    }
}

int main(void) {
    test_valid();
    test_invalid();
    test_depth();
    test_escapes();
    test_u64();
    return test_done("test_json");
}
