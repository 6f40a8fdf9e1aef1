/* pecore convert and pecore verify: model files for apps that download
 * models — convert an official .pt once, check every download before use. */
#include "cli.h"
#include "commands.h"
#include "options.h"
#include "pecore.h"

#include <stdlib.h>
#include <string.h>

/* Options of convert and verify, in one struct (each command allows its own). */
typedef struct model_opts {
    const char *in, *out, *vocab, *vh, *th, *sha, *manifest, *name;
    const char *inputs[MAX_INPUTS];
    int n_inputs;
} model_opts;

static int take_model(void *user, const char *a, const char *v) {
    model_opts *o = user;
    const char **dst = !strcmp(a, "-m") || !strcmp(a, "--model") ? &o->in
                     : !strcmp(a, "-o") || !strcmp(a, "--output") ? &o->out
                     : !strcmp(a, "--vocab") ? &o->vocab
                     : !strcmp(a, "--vision-heads") ? &o->vh
                     : !strcmp(a, "--text-heads") ? &o->th
                     : !strcmp(a, "--sha256") ? &o->sha
                     : !strcmp(a, "--manifest") ? &o->manifest : &o->name;
    *dst = v;
    return 0;
}

static int heads_arg(const char *s, int *out) {
    long v;
    if (!s) return 0;
    if (cli_parse_int(s, 1, 4096, &v)) return cli_fail("heads must be an integer in 1..4096, not '%s'", s);
    *out = (int)v;
    return 0;
}

int cmd_convert(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        puts("usage: pecore convert -m IN.pt -o OUT.safetensors [--vocab bpe_simple_vocab_16e6.txt.gz]\n"
             "                      [--vision-heads N] [--text-heads N] [--sha256 HEX]\n"
             "Writes the tensors with the heads and architecture in __metadata__; with --vocab the\n"
             "tokenizer vocabulary travels in the file (tensor pecore.vocab_bpe_gz).  Heads are needed\n"
             "only for models outside the known table; --sha256 checks IN before reading it.");
        return 0;
    }
    model_opts mo = {0};
    if (cli_scan(argc, argv, " -m --model -o --output --vocab --vision-heads --text-heads --sha256 ",
                 "", mo.inputs, &mo.n_inputs, take_model, &mo))
        return 1;
    if (mo.n_inputs) return cli_fail("convert: unexpected argument '%s'", mo.inputs[0]);
    const char *in = mo.in, *out = mo.out, *vocab = mo.vocab, *vh = mo.vh, *th = mo.th, *sha = mo.sha;
    if (!in) return cli_fail("convert: no input: pass -m IN.pt");
    if (!out) return cli_fail("convert: no output file: pass -o OUT.safetensors");
    pe_model_options o = {.sha256_hex = sha};
    if (heads_arg(vh, &o.vision_heads) || heads_arg(th, &o.text_heads)) return 1;
    pe_status s = pe_convert(in, out, &o, vocab, cli_progress, NULL);
    cli_progress_done();
    if (s) return cli_fail_status(s, "convert");
    char hex[65];
    if (pe_file_sha256(out, hex)) return cli_fail_status(PE_ERR_IO, "convert");
    printf("wrote %s\nsha256 %s\n", out, hex);
    return 0;
}

int cmd_verify(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        puts("usage: pecore verify -m MODEL (--sha256 HEX | --manifest models.json [--name NAME])\n"
             "Exit 0 when the file matches; 1 with the reason when it does not.  The manifest is\n"
             "{\"models\": [{\"name\", \"version\", \"size\", \"sha256\"}, ...]}, matched by --name or\n"
             "by the file's base name.");
        return 0;
    }
    model_opts mo = {0};
    if (cli_scan(argc, argv, " -m --model --sha256 --manifest --name ", "", mo.inputs, &mo.n_inputs,
                 take_model, &mo))
        return 1;
    if (mo.n_inputs) return cli_fail("verify: unexpected argument '%s'", mo.inputs[0]);
    const char *model = mo.in, *sha = mo.sha, *manifest = mo.manifest, *name = mo.name;
    if (!model) return cli_fail("verify: pass -m MODEL");
    if (!sha == !manifest) return cli_fail("verify: pass exactly one of --sha256 HEX and --manifest FILE");
    if (name && !manifest) return cli_fail("verify: --name goes with --manifest");
    char hex[65], version[64];
    if (sha) {
        pe_status s = pe_file_sha256(model, hex);
        if (s) return cli_fail_status(s, "verify");
        if (strlen(sha) != 64 || strspn(sha, "0123456789abcdefABCDEF") != 64)
            return cli_fail("verify: --sha256 needs 64 hex digits");
        for (int i = 0; i < 64; i++)
            if ((sha[i] | 0x20) != hex[i])
                return cli_fail("verify: %s: SHA-256 is %s, expected %s", model, hex, sha);
        printf("%s: OK (sha256 %s)\n", model, hex);
        return 0;
    }
    pe_status s = pe_verify_manifest(model, manifest, name, version, sizeof version);
    if (s) return cli_fail_status(s, "verify");
    printf("%s: OK (version %s)\n", model, version);
    return 0;
}
