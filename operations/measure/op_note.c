/* op_note.c: the ABI note of measure.bin (guest build only). */
#include "abi_blob.h"

ABI_BLOB_NOTE_DEFINE(ABI_BLOB_OPERATION, ABI_OP_LOAD_ADDR);
