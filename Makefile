# Makefile: instar (plain make, two toolchains).
#
#   make            build build/instar, build/core.bin, build/measure.bin
#   make run        build and measure a built-in example in the KVM sandbox
#   make check      build and run every test (size gate, unit, functional incl.
#                   the source and malformed-image corpora, hostile guests,
#                   lockdown, install check, fuzz smoke); installs missing
#                   dependencies first
#   make check-asan unit, functional and hostile tests under ASan and UBSan
#   make fuzz       fuzz campaigns (FUZZ_SECONDS=N FUZZ_TARGETS="...")
#   make bench      whole-process timings against qemu-img (hyperfine)
#   make install    PREFIX=/usr/local DESTDIR=
#
# V=1 shows commands; WERROR=0 keeps warnings non-fatal.

VERSION := 0.1.0
BUILD ?= build
PREFIX ?= /usr/local
DESTDIR ?=
V ?= 0
WERROR ?= 1

ifeq ($(V),1)
Q :=
msg = @true
else
Q := @
msg = @printf '  %-8s %s\n' $(1) $(2)
endif

HOSTCC ?= cc
GUEST_CC ?= gcc
PYTHON ?= python3

NANOPB_VERSION := 0.4.7
# scripts/install-deps.sh unpacks here, whatever BUILD is.
NANOPB_DIR := build/deps/nanopb-$(NANOPB_VERSION)
DEPS_STAMP := $(NANOPB_DIR)/.sha256-ok

WARNINGS := -Wall -Wextra -Wmissing-prototypes -Wstrict-prototypes -Wold-style-definition \
	-Wundef -Wformat=2 -Wshadow -Wpointer-arith -Wcast-qual -Wwrite-strings
ifeq ($(WERROR),1)
WARNINGS += -Werror
endif

GEN_NANOPB := $(BUILD)/gen/nanopb
GEN_PBC := $(BUILD)/gen/protobuf-c
GEN_SECCOMP := $(BUILD)/gen/seccomp

# ---- guest toolchain ---------------------------------------------------------
# Everything that can run at CPL0 must avoid SSE (platform.md); we build all
# guest code that way, so no FPU state is ever live.
GUEST_INC := -nostdinc -isystem $(shell $(GUEST_CC) -print-file-name=include) \
	-Ishared -Icrates/rt -Icrates/wire -Icrates/measure -Icrates/image -Icore \
	-I$(NANOPB_DIR) -I$(GEN_NANOPB)
GUEST_BASE_CFLAGS := -std=c11 -Os -ffreestanding -fno-pic -fno-pie -mno-red-zone \
	-mcmodel=small -mgeneral-regs-only -mno-sse -mno-mmx -fno-asynchronous-unwind-tables \
	-fno-unwind-tables -fcf-protection=none -fstack-protector-strong \
	-mstack-protector-guard=global -ffunction-sections -fdata-sections -fno-common \
	-DINSTAR_GUEST=1 -DPB_SYSTEM_HEADER='"pb_system.h"' -DPB_NO_ERRMSG -DPB_BUFFER_ONLY \
	$(GUEST_INC) -MMD -MP
GUEST_CFLAGS := $(GUEST_BASE_CFLAGS) $(WARNINGS)
# Third-party and generated code: our flags, not our warning policy.
GUEST_CFLAGS_3P := $(GUEST_BASE_CFLAGS) -w
GUEST_LDFLAGS := -nostdlib -static -no-pie -Wl,--build-id=none -Wl,--gc-sections \
	-Wl,-z,max-page-size=0x1000 -Wl,-z,noexecstack -Wl,-z,norelro -Wl,--no-warn-rwx-segments

# ---- host toolchain ----------------------------------------------------------
HOST_INC := -Ishared -Icrates/wire -Icrates/measure -Icrates/image -Icrates/rt -Ivmm -I$(GEN_PBC) \
	-I$(GEN_SECCOMP)
HOST_CFLAGS := -std=gnu11 -O2 -g -fstack-protector-strong -fstack-clash-protection \
	-D_FORTIFY_SOURCE=2 -fPIE -DINSTAR_VERSION='"$(VERSION)"' $(HOST_INC) $(WARNINGS) -MMD -MP
HOST_LDFLAGS := -static-pie -Wl,-z,relro,-z,now
HOST_LIBS := -lprotobuf-c

# The release binary (build/instar) links musl, not glibc: glibc's static
# start-up runs ~40 CPUIDs, each a trap to the hypervisor on virtual machines
# (~0.25 ms per run here); musl's runs none.  protobuf-c is built against
# musl from Debian's source package (scripts/build-musl-deps.sh); the
# seccomp filter is compiled by libseccomp at build time.
# Tests, fuzzers and SAN=1 builds link glibc and Debian's libraries.
# HOST_LIBC=glibc builds build/instar with glibc too.
HOST_LIBC ?= musl
MUSL_CC ?= musl-gcc
MUSL_DIR := build/deps/musl
MUSL_STAMP := $(MUSL_DIR)/.ok
# musl-tools' startup files and libc.a (Debian: /usr/lib/<arch>-linux-musl).
MUSL_LIBDIR ?= /usr/lib/$(shell $(HOSTCC) -dumpmachine | sed 's/-gnu$$/-musl/')
# musl has no _FORTIFY_SOURCE; -isystem puts our built headers (and the
# kernel's UAPI headers, which musl's include directory lacks) in reach.
MUSL_CFLAGS = $(filter-out -D_FORTIFY_SOURCE=2,$(HOST_CFLAGS)) -isystem $(MUSL_DIR)/include
MUSL_LINK_START = $(MUSL_LIBDIR)/rcrt1.o $(MUSL_LIBDIR)/crti.o \
	$(shell $(HOSTCC) -print-file-name=crtbeginS.o)
MUSL_LINK_END = $(MUSL_DIR)/lib/libprotobuf-c.a \
	-L$(MUSL_LIBDIR) -lc $(shell $(HOSTCC) -print-libgcc-file-name) \
	$(shell $(HOSTCC) -print-file-name=crtendS.o) $(MUSL_LIBDIR)/crtn.o

# SAN=1: AddressSanitizer + UndefinedBehaviorSanitizer on every host binary
# (make check-asan uses it in its own build directory).  ASan needs dynamic
# linking; FORTIFY_SOURCE and ASan do not mix.
SAN ?= 0
ifeq ($(SAN),1)
SAN_CFLAGS := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer \
	-DINSTAR_SAN=1
HOST_CFLAGS := $(filter-out -D_FORTIFY_SOURCE=2,$(HOST_CFLAGS)) $(SAN_CFLAGS)
HOST_LDFLAGS := $(SAN_CFLAGS) -Wl,-z,relro,-z,now
HOST_LIBC := glibc
endif

# ---- sources -----------------------------------------------------------------
RT_SRCS := crates/rt/rt_string.c
FMT_SRCS := crates/rt/rt_fmt.c
# Image format drivers: crates/image (shared parts) and one crate per format.
IMAGE_SRCS := $(wildcard crates/image/*.c) $(wildcard crates/raw/*.c crates/qcow2/*.c \
	crates/qcow/*.c crates/vmdk/*.c crates/vpc/*.c crates/vhdx/*.c crates/qed/*.c \
	crates/vdi/*.c crates/parallels/*.c crates/luks/*.c)
WIRE_SRCS := crates/wire/wire.c
CALC_SRCS := crates/measure/calc_basic.c crates/measure/calc_qcow2.c crates/measure/calc_image.c
NANOPB_SRCS := $(NANOPB_DIR)/pb_common.c $(NANOPB_DIR)/pb_encode.c
CORE_SRCS := core/core_main.c core/core_serial.c core/core_dev.c
MEASURE_OP_SRCS := operations/measure/op_measure.c operations/measure/op_targets.c \
	operations/measure/op_source.c
VMM_SRCS := vmm/vmm_main.c vmm/vmm_log.c vmm/vmm_help.c vmm/vmm_measure.c vmm/vmm_targets.c vmm/vmm_object.c \
	vmm/vmm_luks.c vmm/vmm_image.c vmm/vmm_source.c vmm/vmm_chain.c vmm/vmm_json.c vmm/vmm_size.c \
	vmm/vmm_opts.c vmm/vmm_getopt.c vmm/vmm_mem.c \
	vmm/vmm_elf.c vmm/vmm_kvm.c vmm/vmm_proto.c vmm/vmm_seccomp.c

GO := $(BUILD)/guest
HO := $(BUILD)/host
HM := $(BUILD)/host-musl

guest_obj = $(patsubst %.c,$(GO)/%.o,$(patsubst %.S,$(GO)/%.o,$(subst build/deps/,deps/,$(subst $(BUILD)/,,$(1)))))
host_obj = $(patsubst %.c,$(HO)/%.o,$(subst $(BUILD)/,,$(1)))

CORE_OBJS := $(GO)/core/core_start.o $(call guest_obj,$(CORE_SRCS) $(RT_SRCS) $(WIRE_SRCS)) \
	$(GO)/gen/nanopb/guest.pb.o $(call guest_obj,$(NANOPB_SRCS))
MEASURE_OP_OBJS := $(call guest_obj,$(MEASURE_OP_SRCS) operations/measure/op_note.c \
	$(CALC_SRCS) $(IMAGE_SRCS) $(RT_SRCS) $(FMT_SRCS))
VMM_OBJS := $(call host_obj,$(VMM_SRCS) $(WIRE_SRCS) $(CALC_SRCS)) $(HO)/gen/protobuf-c/guest.pb-c.o
VMM_MUSL_OBJS := $(patsubst $(HO)/%,$(HM)/%,$(VMM_OBJS))

BINS := $(BUILD)/instar $(BUILD)/core.bin $(BUILD)/measure.bin

.PHONY: all deps run check check-asan test unit functional hostile size-gate bench install clean \
	distclean
all: $(BINS)

# ---- dependencies ------------------------------------------------------------
PBC_SRC_STAMP := build/deps/protobuf-c-1.4.1/.sha256-ok
$(DEPS_STAMP) $(PBC_SRC_STAMP):
	$(Q)bash scripts/install-deps.sh
$(MUSL_STAMP): scripts/build-musl-deps.sh | $(PBC_SRC_STAMP)
	$(call msg,MUSL-DEPS,$(MUSL_DIR))
	$(Q)MUSL_CC=$(MUSL_CC) bash scripts/build-musl-deps.sh >/dev/null
deps: $(DEPS_STAMP) $(if $(filter musl,$(HOST_LIBC)),$(MUSL_STAMP))

# ---- generated code ----------------------------------------------------------
$(GEN_NANOPB)/guest.pb.c $(GEN_NANOPB)/guest.pb.h: proto/guest.proto proto/guest.options | $(DEPS_STAMP)
	$(call msg,NANOPB,$<)
	$(Q)mkdir -p $(GEN_NANOPB)
	$(Q)cd proto && nanopb_generator.py -q -f guest.options -D $(abspath $(GEN_NANOPB)) guest.proto

$(GEN_PBC)/guest.pb-c.c $(GEN_PBC)/guest.pb-c.h: proto/guest.proto | $(DEPS_STAMP)
	$(call msg,PROTOC-C,$<)
	$(Q)mkdir -p $(GEN_PBC)
	$(Q)protoc-c --proto_path=proto --c_out=$(GEN_PBC) proto/guest.proto

# The seccomp filter, compiled by libseccomp at build time (vmm_seccomp_gen.c).
$(BUILD)/vmm_seccomp_gen: vmm/vmm_seccomp_gen.c vmm/vmm_fds.h | $(DEPS_STAMP)
	$(call msg,HOST-CC,$@)
	$(Q)$(HOSTCC) -std=gnu11 -O2 $(WARNINGS) -Ivmm $< -lseccomp -o $@

$(GEN_SECCOMP)/seccomp_filter.h: $(BUILD)/vmm_seccomp_gen
	$(call msg,SECCOMP,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$< > $@.tmp && mv $@.tmp $@

$(HO)/vmm/vmm_seccomp.o $(HM)/vmm/vmm_seccomp.o: $(GEN_SECCOMP)/seccomp_filter.h

# ---- guest objects -----------------------------------------------------------
$(GO)/gen/%.o: $(BUILD)/gen/%.c | $(DEPS_STAMP)
	$(call msg,GUEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS_3P) -c $< -o $@

$(GO)/deps/%.o: build/deps/%.c | $(DEPS_STAMP)
	$(call msg,GUEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS_3P) -c $< -o $@

$(GO)/%.o: %.c $(GEN_NANOPB)/guest.pb.h | $(DEPS_STAMP)
	$(call msg,GUEST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(GO)/%.o: %.S
	$(call msg,GUEST-AS,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_CFLAGS) -c $< -o $@

$(BUILD)/core.bin: $(CORE_OBJS) core/core.lds
	$(call msg,GUEST-LD,$@)
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -T core/core.lds $(CORE_OBJS) -o $@

$(BUILD)/measure.bin: $(MEASURE_OP_OBJS) operations/op.lds
	$(call msg,GUEST-LD,$@)
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -T operations/op.lds $(MEASURE_OP_OBJS) -o $@

# ---- host objects ------------------------------------------------------------
$(HO)/gen/%.o: $(BUILD)/gen/%.c
	$(call msg,HOST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(filter-out -Werror -Wcast-qual -Wmissing-prototypes,$(HOST_CFLAGS)) -c $< -o $@

$(HO)/%.o: %.c $(GEN_PBC)/guest.pb-c.h
	$(call msg,HOST-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(HOST_CFLAGS) -c $< -o $@

$(HM)/gen/%.o: $(BUILD)/gen/%.c | $(MUSL_STAMP)
	$(call msg,MUSL-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(MUSL_CC) $(filter-out -Werror -Wcast-qual -Wmissing-prototypes,$(MUSL_CFLAGS)) -c $< -o $@

$(HM)/%.o: %.c $(GEN_PBC)/guest.pb-c.h | $(MUSL_STAMP)
	$(call msg,MUSL-CC,$<)
	$(Q)mkdir -p $(@D)
	$(Q)$(MUSL_CC) $(MUSL_CFLAGS) -c $< -o $@

ifeq ($(HOST_LIBC),musl)
# gcc itself links: musl-gcc's specs know no -static-pie.
$(BUILD)/instar: $(VMM_MUSL_OBJS) $(MUSL_STAMP)
	$(call msg,MUSL-LD,$@)
	$(Q)$(HOSTCC) -nostdlib -static-pie -Wl,-z,relro,-z,now -Wl,-z,noexecstack $(MUSL_LINK_START) \
		$(VMM_MUSL_OBJS) $(MUSL_LINK_END) -o $@
else
$(BUILD)/instar: $(VMM_OBJS)
	$(call msg,HOST-LD,$@)
	$(Q)$(HOSTCC) $(HOST_LDFLAGS) $(VMM_OBJS) $(HOST_LIBS) -o $@
endif

# ---- running -----------------------------------------------------------------
run: all
	@echo '$$ build/instar measure --size 1G -O qcow2'
	@$(BUILD)/instar measure --size 1G -O qcow2
	@echo '$$ build/instar measure --size 10G -O qcow2 -o cluster_size=2M,preallocation=full --output=json'
	@$(BUILD)/instar measure --size 10G -O qcow2 -o cluster_size=2M,preallocation=full --output=json

size-gate: $(BUILD)/core.bin $(BUILD)/measure.bin
	$(Q)bash scripts/check-binary-sizes.sh $(BUILD)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/instar
	install -m 0755 $(BUILD)/instar $(DESTDIR)$(PREFIX)/bin/instar
	install -m 0644 $(BUILD)/core.bin $(BUILD)/measure.bin $(DESTDIR)$(PREFIX)/lib/instar/

clean:
	rm -rf $(GO) $(HO) $(HM) $(BUILD)/gen $(BUILD)/tests $(BUILD)/vmm_seccomp_gen $(BINS)

distclean:
	rm -rf $(BUILD)

# Unit, functional and hostile-guest tests against sanitizer builds.
check-asan:
	$(Q)$(MAKE) --no-print-directory BUILD=build-asan SAN=1 all unit functional hostile
	@echo "make check-asan: all tests passed under ASan and UBSan"

include tests/tests.mk
include tests/fuzz/fuzz.mk

-include $(shell find $(BUILD)/guest $(BUILD)/host $(BUILD)/host-musl -name '*.d' 2>/dev/null)

bench: all
	$(Q)$(PYTHON) scripts/bench.py --instar $(BUILD)/instar
