/* pecore synth and pecore archs: seeded synthetic weights for the known
 * architectures, and the list of those architectures. */
#include "cli.h"
#include "commands.h"
#include "options.h"

#include <string.h>

int cmd_archs(int argc, char **argv) {
    (void)argc, (void)argv; /* as before: arguments are ignored */
    for (int i = 0; i < pe_arch_list_count(); i++) puts(pe_arch_list_name(i));
    return 0;
}

static const char SYNTH_USAGE[] =
    "usage: pecore synth --arch NAME [--seed N] [--dtype f32|f16|bf16] [--vision-only]\n"
    "                    -o FILE.safetensors\n"
    "Writes seeded random weights of a known architecture (pecore archs lists them).\n"
    "A CLIP architecture gets its text tower unless --vision-only (the same vision\n"
    "tower, under bare official names).\n";

int cmd_synth(int argc, char **argv) {
    if (cli_help(argc, argv, SYNTH_USAGE)) return 0;
    opts o;
    if (cli_parse(argc, argv, " --arch --seed --dtype --vision-only -o --output ", &o)) return 1;
    if (o.n_inputs) return cli_fail("synth: unexpected argument '%s'", o.inputs[0]);
    if (!o.arch) return cli_fail("synth: pass --arch NAME (pecore archs lists them)");
    if (!o.out) return cli_fail("synth: no output file: pass -o FILE.safetensors");
    pe_weight_type t = PE_WEIGHTS_F32;
    if (o.dtype && !strcmp(o.dtype, "f16")) t = PE_WEIGHTS_F16;
    else if (o.dtype && !strcmp(o.dtype, "bf16")) t = PE_WEIGHTS_BF16;
    else if (o.dtype && strcmp(o.dtype, "f32"))
        return cli_fail("--dtype must be f32, f16 or bf16, not '%s'", o.dtype);
    pe_synth_options so = {.seed = (uint64_t)o.seed, .type = t, .vision_only = o.vision_only,
                           .progress = cli_progress};
    pe_status s = pe_synth_write(o.arch, o.out, &so);
    cli_progress_done();
    if (s) return cli_fail_status(s, "synth");
    fprintf(stderr, "wrote %s: synthetic %s (seed %ld, %s%s)\n", o.out, o.arch, o.seed,
            o.dtype ? o.dtype : "f32", o.vision_only ? ", vision only" : "");
    return 0;
}
