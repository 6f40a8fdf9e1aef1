/* pecore — command-line front end.  Uses only the public API (pecore.h) plus
 * the CLI helpers for images (libjpeg-turbo, libpng) and .npy files.
 *
 * Layers, each using only those below it:
 *   pecore.c            the command table and main
 *   cmd_*.c             one command, or a few closely related ones, each
 *   options.[ch]        argv parsing (cli_scan) and the common options
 *   frames.[ch]         the raw video frame options and frame files
 *   cli.[ch]            errors, numbers, progress, safe text, model / .npy
 *   image_io, npy       file formats */
#include "cli.h"
#include "commands.h"

#include <stdio.h>
#include <string.h>

typedef struct command {
    const char *name;
    const char *help;                   /* one line for `pecore help` */
    int (*run)(int argc, char **argv);  /* argv: the words after the name */
} command;

static int cmd_version(int argc, char **argv);
static int cmd_help(int argc, char **argv);

static const command commands[] = {
    {"info", "a model's architecture, dtypes and size", cmd_info},
    {"embed", "embeddings [N, D] (or tokens, linear4) of images, tensors or raw frames", cmd_embed},
    {"preprocess", "model input tensors [N, 3, H, W] of images or raw frames", cmd_preprocess},
    {"synth", "seeded synthetic weights of a known architecture", cmd_synth},
    {"bench", "latency, throughput, memory, GFLOP/s", cmd_bench},
    {"tokenize", "CLIP token ids of texts", cmd_tokenize},
    {"text", "text embeddings [N, D]", cmd_text},
    {"classify", "zero-shot, prototype or KNN labels of images", cmd_classify},
    {"prototypes", "class embeddings from text, stored", cmd_prototypes},
    {"gallery", "labelled reference images for KNN (add, list, remove)", cmd_gallery},
    {"stream", "live labels for raw video on standard input (ffmpeg)", cmd_stream},
    {"convert", ".pt checkpoint to safetensors", cmd_convert},
    {"verify", "check a model file's integrity", cmd_verify},
    {"quantize", "smaller model: f16, bf16, q8 or q4 weights", cmd_quantize},
    {"compare", "how closely two models agree: cosine, error, top-1", cmd_compare},
    {"archs", "list known architectures", cmd_archs},
    {"version", "print the version", cmd_version},
    {"help", "this list", cmd_help},
};
enum { N_COMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f) {
    fputs("usage: pecore <command> [options]\n\ncommands:\n", f);
    for (int i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fputs("\nRun 'pecore <command> --help' for the options of one command.\n", f);
}

static int cmd_version(int argc, char **argv) {
    (void)argc, (void)argv;
    printf("pecore %s\n", pe_version());
    return 0;
}

static int cmd_help(int argc, char **argv) {
    (void)argc, (void)argv;
    usage(stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) { usage(stderr); return 2; }
    const char *name = argv[1];
    if (!strcmp(name, "--version")) name = "version";
    if (!strcmp(name, "--help") || !strcmp(name, "-h")) name = "help";
    for (int i = 0; i < N_COMMANDS; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 2, argv + 2);
    cli_fail("unknown command '%s' (run 'pecore help' for the list)", name);
    return 2;
}
