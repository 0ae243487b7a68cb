"""Board builds: the core mapped onto FPGA primitives, board tops, bitstreams (make bitstream)."""
