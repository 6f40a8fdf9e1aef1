/* The pecore commands, each `int cmd_NAME(int argc, char **argv)` with argv
 * the words after the command's name; the exit code is its return value.
 * tools/pecore.c holds the table that names them. */
#ifndef PE_TOOLS_COMMANDS_H
#define PE_TOOLS_COMMANDS_H

int cmd_info(int argc, char **argv);        /* tools/cmd_info.c */
int cmd_embed(int argc, char **argv);       /* tools/cmd_embed.c */
int cmd_preprocess(int argc, char **argv);  /* tools/cmd_preprocess.c */
int cmd_synth(int argc, char **argv);       /* tools/cmd_synth.c */
int cmd_archs(int argc, char **argv);
int cmd_bench(int argc, char **argv);       /* tools/cmd_bench.c */
int cmd_tokenize(int argc, char **argv);    /* tools/cmd_classify.c */
int cmd_text(int argc, char **argv);
int cmd_classify(int argc, char **argv);
int cmd_prototypes(int argc, char **argv);
int cmd_gallery(int argc, char **argv);
int cmd_stream(int argc, char **argv);      /* tools/cmd_stream.c */
int cmd_convert(int argc, char **argv);     /* tools/cmd_model.c */
int cmd_verify(int argc, char **argv);
int cmd_quantize(int argc, char **argv);    /* tools/cmd_quant.c */
int cmd_compare(int argc, char **argv);

#endif
