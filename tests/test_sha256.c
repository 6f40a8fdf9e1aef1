/* SHA-256 against the FIPS 180-2 / NIST example vectors, incremental
 * updates split at every boundary, and hex parsing. */
#include "test.h"
#include "util/sha256.h"

static void hex_of(const void *p, size_t n, char out[65]) {
    uint8_t d[32];
    pe_sha256(p, n, d);
    pe_sha256_hex(d, out);
}

int main(void) {
    char h[65];
    static const struct { const char *in, *want; } v[] = {
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        hex_of(v[i].in, strlen(v[i].in), h);
        CHECK(!strcmp(h, v[i].want), "sha256(\"%s\") = %s", v[i].in, h);
        /* The same message fed in two pieces, split everywhere. */
        for (size_t cut = 0; cut <= strlen(v[i].in); cut++) {
            pe_sha256_ctx c;
            uint8_t d[32];
            pe_sha256_init(&c);
            pe_sha256_update(&c, v[i].in, cut);
            pe_sha256_update(&c, v[i].in + cut, strlen(v[i].in) - cut);
            pe_sha256_final(&c, d);
            pe_sha256_hex(d, h);
            CHECK(!strcmp(h, v[i].want), "split at %zu: %s", cut, h);
        }
    }
    /* One million 'a' (FIPS 180-2 appendix B.3), in uneven chunks. */
    char *a = malloc(1000000);
    memset(a, 'a', 1000000);
    pe_sha256_ctx c;
    uint8_t d[32];
    pe_sha256_init(&c);
    for (size_t at = 0, step = 1; at < 1000000; at += step, step = step * 3 % 977 + 1)
        pe_sha256_update(&c, a + at, at + step > 1000000 ? 1000000 - at : step);
    pe_sha256_final(&c, d);
    pe_sha256_hex(d, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "1M a: %s", h);
    hex_of(a, 1000000, h);
    CHECK(!strcmp(h, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"), "1M a one shot");
    free(a);

    uint8_t p[32];
    CHECK(pe_sha256_parse("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD", p) == 0 &&
          p[0] == 0xba && p[31] == 0xad, "upper-case hex");
    CHECK(pe_sha256_parse("ba7816bf", p) != 0, "short hex refused");
    CHECK(pe_sha256_parse("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad0", p) != 0,
          "long hex refused");
    CHECK(pe_sha256_parse("ga7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", p) != 0,
          "non-hex refused");
    CHECK(pe_sha256_parse(NULL, p) != 0, "NULL refused");
    return test_done("sha256");
}
