/* pb_system.h: the system header nanopb includes in the guest
 * (-DPB_SYSTEM_HEADER), instead of the C library's headers. */
#ifndef INSTAR_PB_SYSTEM_H
#define INSTAR_PB_SYSTEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rt.h"

/* pb.h checks the byte width; gcc's freestanding <limits.h> would pull in
 * the C library's under -nostdinc. */
#ifndef CHAR_BIT
#define CHAR_BIT 8
#endif

#endif /* INSTAR_PB_SYSTEM_H */
