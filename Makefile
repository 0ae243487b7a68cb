# cfsnn: every target creates and fills the local .venv by itself (no sudo).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.installed
OUT    ?= runs/digits
PYTEST_ARGS ?=

.PHONY: all install demo test sim bench verilog bitstream prog clean help
SIM   ?= verilator
WAVES ?= 0
BOARD ?= icebreaker
DEVICE ?=
LANES ?=
MHZ   ?=

all: test

help:
	@echo "make demo    train a CF network on the bundled digits, export it, run it on the simulated FPGA"
	@echo "make test    run the test suite"
	@echo "make sim     cocotb regression of the RTL against the golden model (SIM=verilator|icarus, WAVES=1)"
	@echo "make bench   benchmarks (installs SpikingJelly and snnTorch as baselines)"
	@echo "make verilog write build/cfcore.v (default build parameters)"
	@echo "make bitstream BOARD=icebreaker|ulx3s [DEVICE=85F] [LANES=..] [MHZ=..]"
	@echo "             bitstream, build/<board>/report.json and a resource/timing table"
	@echo "make prog BOARD=..  program a connected board (openFPGALoader or iceprog)"

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -c constraints.txt -e '.[test,fpga]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/cfsnn train --dataset digits --hidden 128 --T 4 --neuron cf --K 2 --seed 0 --out $(OUT)
	$(VENV)/bin/cfsnn info $(OUT)/model.cfsnn
	$(VENV)/bin/cfsnn eval --model $(OUT)/model.cfsnn --dataset digits --backend golden
	$(VENV)/bin/cfsnn eval --model $(OUT)/model.cfsnn --dataset digits --backend torch
	$(VENV)/bin/cfsnn eval --model $(OUT)/model.cfsnn --dataset digits --backend sim --limit 100
	$(VENV)/bin/cfsnn raster --model $(OUT)/model.cfsnn --dataset digits --index 0 --out $(OUT)/raster.png

test: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

sim: $(STAMP)
	SIM=$(SIM) WAVES=$(WAVES) $(PY) -m pytest -q -s sim/test_regression.py $(PYTEST_ARGS)

verilog: $(STAMP)
	$(PY) -m cfsnn_hw.export --out build/cfcore.v

bitstream: $(STAMP)
	$(PY) -m cfsnn_hw.boards.build --board $(BOARD) $(if $(DEVICE),--device $(DEVICE)) \
		$(if $(LANES),--lanes $(LANES)) $(if $(MHZ),--mhz $(MHZ))

prog: $(STAMP)
	$(PY) -m cfsnn_hw.boards.prog --board $(BOARD)

bench: $(STAMP)
	$(PIP) install --quiet -c constraints.txt -e '.[test,fpga,bench]'
	$(VENV)/bin/cfsnn bench train-step

clean:
	rm -rf $(VENV) runs build .pytest_cache
