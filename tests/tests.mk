# tests.mk: test targets, included by the top-level Makefile.

TB := $(BUILD)/tests
TEST_CFLAGS := -std=gnu11 -O1 -g $(HOST_INC) -Itests/unit -Itests/mock -Ioperations/measure \
	$(filter-out -Wmissing-prototypes,$(WARNINGS)) -MMD -MP $(SAN_CFLAGS)
CHECK_LIBS := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt -lpthread)

# Format drivers' tests: any tests/unit/test_img_<fmt>.c (Check), linked with
# every driver, the harness (tests/unit/img_harness.c) and qemu_ref.
IMG_TESTS := $(patsubst tests/unit/%.c,$(TB)/%,$(wildcard tests/unit/test_img_*.c))
IMG_TEST_DEPS := tests/unit/img_harness.c tests/unit/test_util.c tests/unit/qemu_ref.c \
	tests/unit/host_rt.c $(IMAGE_SRCS) $(CALC_SRCS) $(FMT_SRCS)

UNIT_TESTS := $(TB)/test_calc $(TB)/test_cli $(TB)/test_argv $(TB)/test_wire $(TB)/test_op_measure \
	$(TB)/test_seccomp \
	$(IMG_TESTS)

$(TB)/test_img_%: tests/unit/test_img_%.c $(IMG_TEST_DEPS) | $(DEPS_STAMP)
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(TEST_CFLAGS) $^ $(CHECK_LIBS) -o $@

$(TB)/test_calc: tests/unit/test_calc.c tests/unit/test_util.c tests/unit/qemu_ref.c $(CALC_SRCS) | $(DEPS_STAMP)
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(TEST_CFLAGS) $^ $(CHECK_LIBS) -o $@

$(TB)/test_seccomp: tests/unit/test_seccomp.c tests/unit/test_util.c vmm/vmm_seccomp.c \
		$(GEN_SECCOMP)/seccomp_filter.h | $(DEPS_STAMP)
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(TEST_CFLAGS) $(filter %.c,$^) $(CHECK_LIBS) -o $@

$(TB)/test_cli: tests/unit/test_cli.c tests/unit/test_util.c tests/unit/qemu_ref.c vmm/vmm_size.c vmm/vmm_opts.c \
		vmm/vmm_log.c | $(DEPS_STAMP)
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(TEST_CFLAGS) $^ $(CHECK_LIBS) -o $@

$(TB)/test_argv: tests/unit/test_argv.c tests/unit/test_util.c $(filter-out vmm/vmm_main.c,$(VMM_SRCS)) $(WIRE_SRCS) \
		$(CALC_SRCS) $(GEN_PBC)/guest.pb-c.c | $(DEPS_STAMP) $(GEN_SECCOMP)/seccomp_filter.h
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(TEST_CFLAGS) -DINSTAR_VERSION='"test"' -Wno-cast-qual $^ $(CHECK_LIBS) \
		-lprotobuf-c -o $@

$(TB)/test_wire: tests/unit/test_wire.c tests/unit/test_util.c vmm/vmm_proto.c vmm/vmm_log.c $(WIRE_SRCS) \
		$(GEN_PBC)/guest.pb-c.c | $(DEPS_STAMP)
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(TEST_CFLAGS) -Wno-cast-qual $^ $(CHECK_LIBS) -lprotobuf-c -o $@

$(TB)/test_op_measure: tests/unit/test_op_measure.c tests/unit/qemu_ref.c tests/mock/mock_ct.c \
		$(MEASURE_OP_SRCS) $(CALC_SRCS) $(IMAGE_SRCS) $(FMT_SRCS) tests/unit/host_rt.c \
		| $(DEPS_STAMP)
	$(call msg,TEST-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(HOSTCC) $(TEST_CFLAGS) $^ -lcmocka -o $@

unit: $(UNIT_TESTS)
	$(Q)set -e; for t in $(UNIT_TESTS); do echo "== $$t"; $$t; done

# ---- hostile guests: an operation blob that misbehaves on purpose ------------
HOSTILE_BIN := $(TB)/guests/hostile.bin
HOSTILE_OBJS := $(call guest_obj,tests/guests/hostile.c operations/measure/op_note.c $(RT_SRCS))

$(HOSTILE_BIN): $(HOSTILE_OBJS) operations/op.lds
	$(call msg,GUEST-LD,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(GUEST_CC) $(GUEST_LDFLAGS) -T operations/op.lds $(HOSTILE_OBJS) -o $@

# ---- functional tests (real KVM guest, side by side with qemu-img) -------------
functional: all
	$(Q)$(PYTHON) tests/functional/test_measure_size.py --instar $(BUILD)/instar
	$(Q)$(PYTHON) tests/functional/test_measure_targets.py --instar $(BUILD)/instar
	$(Q)$(PYTHON) tests/functional/test_measure_source.py --instar $(BUILD)/instar
	$(Q)$(PYTHON) tests/functional/test_malformed.py --instar $(BUILD)/instar
	$(Q)$(PYTHON) tests/functional/test_chains.py --instar $(BUILD)/instar

hostile: all $(HOSTILE_BIN)
	$(Q)$(PYTHON) tests/functional/test_hostile.py --instar $(BUILD)/instar \
		--core $(BUILD)/core.bin --guest $(HOSTILE_BIN)
	$(Q)$(PYTHON) tests/functional/test_blobs.py --instar $(BUILD)/instar

# The release build's lockdown (sanitizer builds do not load the filter).
lockdown: all $(HOSTILE_BIN)
	$(Q)$(PYTHON) tests/functional/test_lockdown.py --instar $(BUILD)/instar \
		--core $(BUILD)/core.bin --guest $(HOSTILE_BIN)

# The installed layout finds its blobs in <prefix>/lib/instar.
install-check: all
	$(Q)rm -rf $(TB)/stage && $(MAKE) -s install DESTDIR=$(abspath $(TB)/stage) PREFIX=/usr >/dev/null
	$(Q)out=$$(env -u INSTAR_BLOB_DIR $(TB)/stage/usr/bin/instar measure --size 1G -O qcow2) && \
		want=$$(qemu-img measure --size 1G -O qcow2) && [ "$$out" = "$$want" ] && \
		echo "install-check: installed instar finds its blobs and measures like qemu-img"

check: all size-gate unit functional hostile lockdown install-check fuzz-smoke
	@echo "make check: all tests passed"

test: check
