/* abi_format.h: image format identifiers shared by host, core and operations.
 *
 * The numbering is fixed by the design (instar's ImageFormat); values travel
 * in MeasureConfig.target_format and MeasureResult.target_format.
 */
#ifndef INSTAR_ABI_FORMAT_H
#define INSTAR_ABI_FORMAT_H

#define ABI_FMT_UNKNOWN 0u
#define ABI_FMT_RAW 1u
#define ABI_FMT_QCOW2 2u
#define ABI_FMT_VMDK4 3u          /* qemu driver "vmdk" (target and sparse source) */
#define ABI_FMT_VMDK3 4u
#define ABI_FMT_VHD 5u            /* qemu driver "vpc" */
#define ABI_FMT_VHDX 6u
#define ABI_FMT_QCOW1 7u          /* qemu driver "qcow" */
#define ABI_FMT_VDI 8u
#define ABI_FMT_QED 9u
#define ABI_FMT_ISO 10u
#define ABI_FMT_LUKS 11u
#define ABI_FMT_VMDK_DESCRIPTOR 12u
#define ABI_FMT_PARALLELS 13u
#define ABI_FMT_BOCHS 14u
#define ABI_FMT_CLOOP 15u
#define ABI_FMT_DMG 16u
#define ABI_FMT_COUNT 17u

#endif /* INSTAR_ABI_FORMAT_H */
