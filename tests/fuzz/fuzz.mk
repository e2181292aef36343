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
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_SECONDS ?= 600
FUZZ_FLAGS := -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer -DINSTAR_VERSION='"fuzz"' $(HOST_INC) -Itests/fuzz -Itests/mock \
	-Ioperations/measure -Wno-unused-command-line-argument

FUZZ_HOST := frames cli calc
FUZZ_TARGETS := $(FUZZ_HOST)

$(FUZZ_DIR)/fuzz_frames: tests/fuzz/fuzz_frames.c vmm/vmm_proto.c vmm/vmm_log.c $(WIRE_SRCS) \
		$(GEN_PBC)/guest.pb-c.c | $(DEPS_STAMP)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $^ -lprotobuf-c -o $@

$(FUZZ_DIR)/fuzz_cli: tests/fuzz/fuzz_cli.c $(filter-out vmm/vmm_main.c,$(VMM_SRCS)) $(WIRE_SRCS) \
		$(CALC_SRCS) $(GEN_PBC)/guest.pb-c.c | $(DEPS_STAMP)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $^ -lprotobuf-c -o $@

$(FUZZ_DIR)/fuzz_calc: tests/fuzz/fuzz_calc.c $(CALC_SRCS) | $(DEPS_STAMP)
	$(call msg,FUZZ-CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(FUZZ_CC) $(FUZZ_FLAGS) $^ -o $@

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
		[ -d $$seeds ] && cp $$seeds/* $$corpus/ 2>/dev/null || true; \
		if [ -d $$reg ] && [ -n "$$(ls $$reg)" ]; then $$bin -runs=0 $$reg/* >/dev/null 2>&1 || \
			{ echo "fuzz-smoke: $$t fails on a committed regression input"; $$bin -runs=0 $$reg/*; exit 1; }; fi; \
		$$bin -dict=tests/fuzz/fuzz.dict -max_total_time=$(FUZZ_SMOKE_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -artifact_prefix=$(FUZZ_DIR)/crashes/$$t/ $$corpus \
			> $(FUZZ_DIR)/smoke-$$t.log 2>&1 || { echo "fuzz-smoke: $$t found a crash:"; \
			tail -30 $(FUZZ_DIR)/smoke-$$t.log; exit 1; }; \
		echo "fuzz-smoke: $$t ok, $$(grep -o 'Done [0-9]* runs' $(FUZZ_DIR)/smoke-$$t.log)"; \
	done

# A campaign: each target in turn for FUZZ_SECONDS, keeping its corpus.
fuzz: $(FUZZ_BINS) $(FUZZ_DIR)/seeds/.stamp
	$(Q)set -e; for t in $(FUZZ_TARGETS); do \
		bin=$(FUZZ_DIR)/fuzz_$$t; corpus=$(FUZZ_DIR)/corpus/$$t; mkdir -p $$corpus $(FUZZ_DIR)/crashes/$$t; \
		[ -d $(FUZZ_DIR)/seeds/$$t ] && cp -n $(FUZZ_DIR)/seeds/$$t/* $$corpus/ 2>/dev/null || true; \
		echo "fuzz: $$t for $(FUZZ_SECONDS) s"; \
		$$bin -dict=tests/fuzz/fuzz.dict -max_total_time=$(FUZZ_SECONDS) -timeout=10 \
			-rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix=$(FUZZ_DIR)/crashes/$$t/ \
			$$corpus 2>&1 | tee $(FUZZ_DIR)/campaign-$$t.log | grep -E '^#[0-9]+.*(pulse|DONE)|stat::' || true; \
	done

.PHONY: fuzz fuzz-smoke fuzz-build
