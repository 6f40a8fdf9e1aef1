/* PyTorch checkpoints (torch.save, zip layout) read without Python.
 *
 * A .pt file is a zip archive of stored (uncompressed) entries:
 *   <archive>/data.pkl     a pickle of the object saved (a state dict)
 *   <archive>/data/<key>   the raw bytes of each storage
 *   <archive>/byteorder    "little" (absent in older files: little)
 *   <archive>/version ...  ignored
 * A pickle is a program, so it runs on a restricted machine: an allow-list
 * of opcodes and of globals (OrderedDict, the tensor rebuild functions, the
 * typed storages), bounded memo, stack, nesting and object counts.  The
 * result fills the same pe_safetensors struct as a safetensors file, so the
 * loader does not know which format it read: contiguous tensors point into
 * the mapping, non-contiguous views are copied into st->owned. */
#ifndef PE_PT_H
#define PE_PT_H

#include "safetensors.h"

#define PE_PT_MAX_ENTRIES 65536       /* zip entries                          */
#define PE_PT_MAX_PICKLE (256u << 20) /* bytes of data.pkl                    */
#define PE_PT_MAX_STACK 65536         /* pickle stack slots                   */
#define PE_PT_MAX_MEMO 1048576        /* highest memo key + 1                 */
#define PE_PT_MAX_DEPTH 32            /* MARK nesting and container nesting   */
#define PE_PT_MAX_OBJECTS 2097152     /* objects one pickle may create        */
#define PE_PT_MAX_ITEMS 4194304       /* container slots over all containers  */

/* True when buf starts like a zip archive ("PK\3\4"). */
bool pe_pt_is_zip(const uint8_t *buf, size_t len);

/* Parses a torch.save zip in buf[0:len] (not copied; must outlive st).
 * Wrappers "state_dict", "weights", "model", "teacher" are unwrapped and "module."
 * prefixes dropped.  Errors say what was refused and where. */
pe_status pe_pt_parse(pe_safetensors *st, const uint8_t *buf, size_t len);

/* Opens a weights file by its magic bytes: a zip goes to pe_pt_parse,
 * anything else to pe_st_parse.  With sha256_hex (64 hex digits) the
 * mapped bytes are hashed first and a mismatch is refused with
 * PE_ERR_CHECKSUM before any parsing. */
pe_status pe_weights_open(pe_safetensors *st, const char *path, const char *sha256_hex);

#endif
