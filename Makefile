# frkit: one top-level build.
#
#   make                 library + every tool in bin/
#   make test            install what is missing (scripts/deps.sh), build, run the suite
#   make demo            install what is missing, build, run the main job on the embedded default
#   make bench           benchmarks (never part of the tests)
#   make install PREFIX=/usr/local
#
# Switches: NO_CUDA=1 NO_CUDNN=1 NO_MPI=1 NO_OMP=1 DEBUG=1 SAN=1 (ASan+UBSan) CUDA_ARCH=90 V=1.
# Objects go to build/<variant>/, so switching variants does not rebuild everything.

CC      ?= gcc
NVCC    ?= $(shell command -v nvcc 2>/dev/null || { test -x /usr/local/cuda/bin/nvcc && echo /usr/local/cuda/bin/nvcc; })
MPICC   ?= $(shell command -v mpicc 2>/dev/null)
PREFIX  ?= /usr/local
PYTHON  ?= /usr/bin/python3

ifeq ($(CC),cc)
CC := gcc
endif

# ---------------------------------------------------------------- variant
VARIANT := $(if $(DEBUG),debug,release)$(if $(SAN),-san)$(if $(NO_CUDA),-nocuda)$(if $(NO_MPI),-nompi)$(if $(NO_OMP),-noomp)
BUILD   := build/$(VARIANT)

# ---------------------------------------------------------------- probes
# Each probe compiles a one-line program; override with HAVE_X=0/1 on the command line.
probe = $(shell scripts/probe.sh $(CC) '$(1)' $(2))

BLAS_CFLAGS ?= $(shell pkg-config --cflags openblas 2>/dev/null)
BLAS_LIBS   ?= $(or $(shell pkg-config --libs openblas 2>/dev/null),-lopenblas)
HAVE_OPENBLAS ?= $(call probe,cblas.h,$(BLAS_CFLAGS) $(BLAS_LIBS))
HAVE_JPEG     ?= $(call probe,stdio.h jpeglib.h,-ljpeg)
HAVE_ZLIB     ?= $(call probe,zlib.h,-lz)
HAVE_OMP      := $(if $(NO_OMP),0,$(call probe,omp.h,-fopenmp))
HAVE_NATIVE   ?= $(call probe,,-march=native)
HAVE_CUDA     := $(if $(NO_CUDA),0,$(if $(NVCC),1,0))
# With OpenMP, link OpenBLAS's OpenMP build (Debian's libopenblas0-openmp) where it is
# installed: its GEMMs and frkit's loops then share one thread pool instead of two
# pools spinning against each other on the same cores (measured: MobileFaceNet training
# 12 -> 17 images/s on 2 cores); -j N sets both.
BLAS_OMP_DIR  := /usr/lib/$(shell $(CC) -print-multiarch 2>/dev/null)/openblas-openmp
ifeq ($(HAVE_OMP)$(if $(wildcard $(BLAS_OMP_DIR)/libopenblas.so.0),1,0),11)
BLAS_LIBS     := -L$(BLAS_OMP_DIR) -l:libopenblas.so.0 -Wl,-rpath,$(BLAS_OMP_DIR)
BLAS_VARIANT  := OpenMP
else
BLAS_VARIANT  := pthreads
endif
HAVE_MPI      := $(if $(NO_MPI),0,$(if $(MPICC),1,0))
HAVE_CUDNN    := $(if $(filter 1,$(HAVE_CUDA)),$(if $(NO_CUDNN),0,$(if $(wildcard $(patsubst %/bin/nvcc,%,$(NVCC))/include/cudnn.h),1,0)),0)

# ---------------------------------------------------------------- flags
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter -g -MMD -MP -Icommon
ifeq ($(DEBUG),1)
OPT := -O0
else
OPT := -O2
endif
ifeq ($(HAVE_NATIVE),1)
OPT += -march=native
endif
ifeq ($(SAN),1)
OPT += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
endif
CFLAGS   := $(CFLAGS_BASE) $(OPT) $(BLAS_CFLAGS) $(EXTRA_CFLAGS)
LDLIBS   := $(BLAS_LIBS) -ljpeg -lz -lm -lpthread
LDFLAGS  := $(LDSAN) $(EXTRA_LDFLAGS)
ifeq ($(HAVE_OMP),1)
CFLAGS  += -fopenmp -DFR_HAVE_OMP
LDFLAGS += -fopenmp
else
CFLAGS  += -Wno-unknown-pragmas
endif
CUDA_HOME ?= $(patsubst %/bin/nvcc,%,$(NVCC))
CUDA_ARCH ?= $(or $(shell nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d .),90)
ifeq ($(HAVE_CUDA),1)
CFLAGS  += -DFR_HAVE_CUDA
LDLIBS  += -L$(CUDA_HOME)/lib64 -Wl,-rpath,$(CUDA_HOME)/lib64 -lcudart -lcublas -lstdc++
NVFLAGS := -O2 -g -std=c++20 -Icommon -DFR_HAVE_CUDA -arch=sm_$(CUDA_ARCH) -Xcompiler -Wall,-Werror
ifeq ($(HAVE_CUDNN),1)
NVFLAGS += -DFR_HAVE_CUDNN
LDLIBS  += -lcudnn
endif
endif
ifeq ($(HAVE_MPI),1)
CFLAGS  += -DFR_HAVE_MPI
endif
CFLAGS += -DFR_VARIANT='"$(VARIANT)"' -DFR_BLAS='"$(if $(filter 1,$(HAVE_OPENBLAS)),OpenBLAS,none)"'

# ---------------------------------------------------------------- sources
LIB_SRC   := $(wildcard common/*.c)
CUDA_SRC  := $(if $(filter 1,$(HAVE_CUDA)),$(wildcard cuda/*.cu),)
TOOL_SRC  := $(wildcard src/fr-*.c)
TOOLS     := $(patsubst src/%.c,bin/%,$(TOOL_SRC))
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
UNITS     := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
LIB_OBJ   := $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(patsubst %.cu,$(BUILD)/%.o,$(CUDA_SRC))
LIB       := $(BUILD)/libfr.a
STAMP     := build/variant

Q := $(if $(V),,@)

.SECONDARY:
.PHONY: all test demo bench install clean deps check-deps man-check fuzz info
all: check-deps info $(TOOLS) $(UNITS)

info:
	@echo "frkit build ($(VARIANT)):"
	@echo "  $(if $(filter 1,$(HAVE_OPENBLAS)),✓,✗) OpenBLAS ($(BLAS_VARIANT) build) $(BLAS_LIBS)"
	@echo "  $(if $(filter 1,$(HAVE_JPEG)),✓,✗) libjpeg-turbo"
	@echo "  $(if $(filter 1,$(HAVE_ZLIB)),✓,✗) zlib"
	@echo "  $(if $(filter 1,$(HAVE_OMP)),✓ OpenMP,✗ OpenMP$(if $(NO_OMP), (NO_OMP=1)))"
	@echo "  $(if $(filter 1,$(HAVE_NATIVE)),✓ -march=native,✗ -march=native)"
	@echo "  $(if $(filter 1,$(HAVE_CUDA)),✓ CUDA $(NVCC) sm_$(CUDA_ARCH)$(if $(filter 1,$(HAVE_CUDNN)), + cuDNN, (no cuDNN: convolutions by im2col + cuBLAS)),✗ CUDA$(if $(NO_CUDA), (NO_CUDA=1), (no nvcc)))"
	@echo "  $(if $(filter 1,$(HAVE_MPI)),✓ MPI $(MPICC),✗ MPI$(if $(NO_MPI), (NO_MPI=1), (no mpicc)))"
	@echo "  $(if $(SAN),✓ sanitizers (ASan+UBSan),  sanitizers off)$(if $(DEBUG), · debug,)"

check-deps:
	@if [ "$(HAVE_OPENBLAS)$(HAVE_JPEG)$(HAVE_ZLIB)" != "111" ]; then \
	  echo "frkit: missing a required library (OpenBLAS=$(HAVE_OPENBLAS) libjpeg=$(HAVE_JPEG) zlib=$(HAVE_ZLIB))."; \
	  echo "       run scripts/deps.sh (or 'make test', which runs it for you)"; exit 1; fi

# The variant stamp changes when the variant does, so bin/ is relinked for it.
$(shell mkdir -p build; [ "$$(cat $(STAMP) 2>/dev/null)" = "$(VARIANT)" ] || echo "$(VARIANT)" > $(STAMP))

# the CPU backend's loops vectorise at -O3 (the same arithmetic: ISO C mode keeps
# FMA contraction off, and GCC does not reorder float reductions without -ffast-math)
$(BUILD)/common/ops_cpu.o: CFLAGS += $(if $(DEBUG),,-O3)
$(BUILD)/common/conv_direct.o: CFLAGS += $(if $(DEBUG),,-O3)
$(BUILD)/common/conv_dw.o: CFLAGS += $(if $(DEBUG),,-O3)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  CC    $<")
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/%.o: %.cu
	@mkdir -p $(dir $@)
	$(if $(Q),@echo "  NVCC  $<")
	$(Q)$(NVCC) $(NVFLAGS) -c $< -o $@

$(LIB): $(LIB_OBJ)
	$(Q)rm -f $@ && ar rcs $@ $^

bin/%: $(BUILD)/src/%.o $(LIB) $(STAMP)
	@mkdir -p bin
	$(if $(Q),@echo "  LD    $@")
	$(Q)$(CC) $(LDFLAGS) $< $(LIB) $(LDLIBS) -o $@

TEST_SUPPORT := $(BUILD)/tests/unit/harness.o $(BUILD)/tests/unit/gradcheck.o
$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(TEST_SUPPORT) $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS) $< $(TEST_SUPPORT) $(LIB) $(LDLIBS) -o $@

# ---------------------------------------------------------------- fuzzing (clang + libFuzzer)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN := $(patsubst tests/fuzz/%.c,build/fuzz/%,$(FUZZ_SRC))
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -Icommon -fsanitize=fuzzer,address,undefined -DFR_VARIANT='"fuzz"' -DFR_BLAS='"none"'
build/fuzz/%: tests/fuzz/%.c $(LIB_SRC) $(wildcard common/*.h)
	@mkdir -p $(dir $@)
	$(Q)clang $(FUZZ_CFLAGS) -DFR_FUZZING $< $(LIB_SRC) $(BLAS_CFLAGS) $(BLAS_LIBS) -ljpeg -lz -lm -lpthread -o $@
fuzz: $(FUZZ_BIN)

# ---------------------------------------------------------------- the two commands
deps:
	scripts/deps.sh

test:
	@scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory fuzz
	@BUILD=$(BUILD) VARIANT=$(VARIANT) FUZZ_SECONDS=$${FUZZ_SECONDS:-$(if $(SAN),0,10)} tests/run.sh

demo:
	@scripts/deps.sh --check >/dev/null 2>&1 || scripts/deps.sh
	@$(MAKE) --no-print-directory all
	@scripts/demo.sh

BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
$(BUILD)/bench/%: bench/%.c $(LIB)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) $< $(LIB) $(LDFLAGS) $(LDLIBS) -o $@

bench: all $(BENCH_BIN)
	@BUILD=$(BUILD) bench/run.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/share/man/man7
	install -m 755 $(TOOLS) $(DESTDIR)$(PREFIX)/bin/
	install -m 644 $(wildcard man/*.1) $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 $(wildcard man/*.5) $(DESTDIR)$(PREFIX)/share/man/man5/
	install -m 644 $(wildcard man/*.7) $(DESTDIR)$(PREFIX)/share/man/man7/

clean:
	rm -rf build bin/fr-*

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

# `make print-CFLAGS` and friends: the dependency test asks the build for its flags.
print-%:
	@echo '$($*)'
