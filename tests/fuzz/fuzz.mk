# fuzz.mk: libFuzzer targets (clang, ASan + UBSan), included by the Makefile.
#
#   make fuzz-smoke                 replay regressions and seeds, then run each
#                                   target FUZZ_SMOKE_SECONDS (part of make check)
#   make fuzz FUZZ_SECONDS=1800     a campaign: each target in turn, corpus kept
#                                   in build/fuzz/corpus/<target>
# A crash is saved under build/fuzz/crashes/<target>/; minimise it and commit
# it to tests/fuzz/regressions/<target>/, which fuzz-smoke always replays.

FUZZ_CC ?= clang
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SMOKE_SECONDS ?= 8
FUZZ_SECONDS ?= 600
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -DINSTAR_VERSION='"fuzz"' $(HOST_INC) -Itests/fuzz -Itests/mock \
	-Ioperations/measure -Wno-unused-command-line-argument

FUZZ_HOST := frames cli calc
# The measure operation end to end per source format (probe = detection),
# and each driver's open/map directly.
FUZZ_FORMATS := probe:ABI_FMT_UNKNOWN qcow2:ABI_FMT_QCOW2 vmdk:ABI_FMT_VMDK4 vpc:ABI_FMT_VHD \
	vhdx:ABI_FMT_VHDX qcow:ABI_FMT_QCOW1 qed:ABI_FMT_QED vdi:ABI_FMT_VDI \
	parallels:ABI_FMT_PARALLELS luks:ABI_FMT_LUKS raw:ABI_FMT_RAW
FUZZ_DRIVERS := qcow2 vmdk vpc vhdx qcow qed vdi parallels luks
FUZZ_TARGETS := $(FUZZ_HOST) $(foreach f,$(FUZZ_FORMATS),measure_$(firstword $(subst :, ,$(f)))) \
	$(patsubst %,driver_%,$(FUZZ_DRIVERS))
GUEST_ON_HOST := $(MEASURE_OP_SRCS) $(CALC_SRCS) $(IMAGE_SRCS) $(FMT_SRCS) tests/unit/host_rt.c

$(FUZZ_DIR)/fuzz_frames: tests/fuzz/fuzz_frames.c vmm/vmm_proto.c vmm/vmm_log.c $(WIRE_SRCS) \
		$(GEN_PBC)/guest.pb-c.c | $(DEPS_STAMP)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $^ -lprotobuf-c -o $@

$(FUZZ_DIR)/fuzz_cli: tests/fuzz/fuzz_cli.c $(filter-out vmm/vmm_main.c,$(VMM_SRCS)) $(WIRE_SRCS) \
		$(CALC_SRCS) $(GEN_PBC)/guest.pb-c.c | $(DEPS_STAMP) $(GEN_SECCOMP)/seccomp_filter.h
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $^ -lprotobuf-c -o $@

$(FUZZ_DIR)/fuzz_calc: tests/fuzz/fuzz_calc.c $(CALC_SRCS) | $(DEPS_STAMP)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $^ -o $@

define fuzz_measure_rule
$(FUZZ_DIR)/fuzz_measure_$(1): tests/fuzz/fuzz_measure.c tests/mock/mock_ct.c $(GUEST_ON_HOST) \
		| $(DEPS_STAMP)
	$$(call msg,FUZZ-CC,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(FUZZ_CC) $$(FUZZ_FLAGS) -DFUZZ_FORMAT=$(2) $$^ -o $$@
endef
$(foreach f,$(FUZZ_FORMATS),$(eval $(call fuzz_measure_rule,$(firstword $(subst :, ,$(f))),$(lastword $(subst :, ,$(f))))))

$(FUZZ_DIR)/fuzz_driver_%: tests/fuzz/fuzz_driver.c $(IMAGE_SRCS) $(CALC_SRCS) $(FMT_SRCS) \
		tests/unit/host_rt.c | $(DEPS_STAMP)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) -DFUZZ_DRIVER='"$*"' $^ -o $@

FUZZ_BINS = $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_TARGETS))

$(FUZZ_DIR)/seeds/.stamp: tests/fuzz/make_seeds.py tests/functional/corpus.py
	$(call msg,SEEDS,$(@D))
	$(Q)rm -rf $(@D) && $(PYTHON) tests/fuzz/make_seeds.py $(@D) && touch $@

fuzz-build: $(FUZZ_BINS)

# Replay every committed regression and seed, then fuzz briefly.
fuzz-smoke: $(FUZZ_BINS) $(FUZZ_DIR)/seeds/.stamp
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
		bin=$(FUZZ_DIR)/fuzz_$$t; seeds=$(FUZZ_DIR)/seeds/$$t; reg=tests/fuzz/regressions/$$t; \
		corpus=$(FUZZ_DIR)/smoke/$$t; rm -rf $$corpus; mkdir -p $$corpus $(FUZZ_DIR)/crashes/$$t; \
		case $$t in measure_*) seeds=$(FUZZ_DIR)/seeds/measure;; driver_*) seeds=$(FUZZ_DIR)/seeds/driver;; esac; \
		[ -d $$seeds ] && cp $$seeds/* $$corpus/ 2>/dev/null || true; \
		if [ -d $$reg ] && [ -n "$$(ls $$reg)" ]; then $$bin -runs=0 $$reg/* >/dev/null 2>&1 || \
			{ echo "fuzz-smoke: $$t fails on a committed regression input"; $$bin -runs=0 $$reg/*; exit 1; }; fi; \
		ml=1048576; case $$t in *vhdx) ml=8388608;; esac; \
		$$bin -dict=tests/fuzz/fuzz.dict -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=10 \
			-max_len=$$ml -rss_limit_mb=2048 -artifact_prefix=$(FUZZ_DIR)/crashes/$$t/ $$corpus \
			> $(FUZZ_DIR)/smoke-$$t.log 2>&1 || { echo "fuzz-smoke: $$t found a crash:"; \
			tail -30 $(FUZZ_DIR)/smoke-$$t.log; exit 1; }; \
		echo "fuzz-smoke: $$t ok, $$(grep -o 'Done [0-9]* runs' $(FUZZ_DIR)/smoke-$$t.log)"; \
	done

# A campaign: each target in turn for FUZZ_SECONDS, keeping its corpus.
fuzz: $(FUZZ_BINS) $(FUZZ_DIR)/seeds/.stamp
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
		bin=$(FUZZ_DIR)/fuzz_$$t; corpus=$(FUZZ_DIR)/corpus/$$t; mkdir -p $$corpus $(FUZZ_DIR)/crashes/$$t; \
		seeds=$(FUZZ_DIR)/seeds/$$t; \
		case $$t in measure_*) seeds=$(FUZZ_DIR)/seeds/measure;; driver_*) seeds=$(FUZZ_DIR)/seeds/driver;; esac; \
		[ -d $$seeds ] && cp -n $$seeds/* $$corpus/ 2>/dev/null || true; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		ml=1048576; case $$t in *vhdx) ml=8388608;; esac; \
		$$bin -dict=tests/fuzz/fuzz.dict -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-max_len=$$ml -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crashes/$$t/ \
			$$corpus 2>&1 | tee $(FUZZ_DIR)/campaign-$$t.log | grep -E '^#[0-9]+.*(pulse|DONE)|stat::' || true; \
	done

.PHONY: fuzz fuzz-smoke fuzz-build
