"""PLL settings and clock domains for the board tops (iCE40 SB_PLL40_PAD, ECP5 EHXPLLL).

The parameter searches give the same answers as ``icepll`` and ``ecppll``
(tests/hw/test_boards.py runs ``yowasp-icepll`` / ``yowasp-ecppll`` and compares)."""

import struct

from amaranth import ClockDomain, Const, Elaboratable, Instance, Module, Signal
from amaranth.lib import io
from amaranth.lib.cdc import ResetSynchronizer


def ice40_pll_params(f_in_mhz: float, f_out_mhz: float) -> dict:
    """SB_PLL40 settings (simple feedback): Fout = Fin (DIVF+1) / ((DIVR+1) 2^DIVQ) with the
    PFD in 10..133 MHz and the VCO in 533..1066 MHz; the closest output to ``f_out_mhz``."""
    if not 10 <= f_in_mhz <= 133:
        raise ValueError(f"iCE40 PLL input must be 10..133 MHz, not {f_in_mhz}")
    if not 16 <= f_out_mhz <= 275:
        raise ValueError(f"iCE40 PLL output must be 16..275 MHz, not {f_out_mhz}")
    best = None
    for divr in range(16):
        f_pfd = f_in_mhz / (divr + 1)
        if not 10 <= f_pfd <= 133:
            continue
        for divf in range(128):
            for divq in range(1, 7):
                f_vco = f_pfd * (divf + 1)
                if not 533 <= f_vco <= 1066:
                    continue
                f_out = f_vco / 2 ** divq
                if best is None or abs(f_out - f_out_mhz) < abs(best["f_out"] - f_out_mhz):
                    best = dict(divr=divr, divf=divf, divq=divq, f_out=f_out, f_vco=f_vco,
                                f_pfd=f_pfd)
    f = best["f_pfd"]
    best["filter_range"] = (1 if f < 17 else 2 if f < 26 else 3 if f < 44 else 4 if f < 66
                            else 5 if f < 101 else 6)
    return best


def _f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def ecp5_pll_params(f_in_mhz: float, f_out_mhz: float) -> dict:
    """EHXPLLL settings (feedback from CLKOP): Fout = Fin CLKFB_DIV / CLKI_DIV, VCO = Fout
    CLKOP_DIV in 400..800 MHz; float32 arithmetic as in ecppll, so the results are identical."""
    if not 8 <= f_in_mhz <= 400:
        raise ValueError(f"ECP5 PLL input must be 8..400 MHz, not {f_in_mhz}")
    if not 10 <= f_out_mhz <= 400:
        raise ValueError(f"ECP5 PLL output must be 10..400 MHz, not {f_out_mhz}")
    f_in, target = _f32(f_in_mhz), _f32(f_out_mhz)
    error, best = float("inf"), None
    for clki_div in range(1, 129):
        fpfd = _f32(f_in / clki_div)
        if fpfd < 3.125 or fpfd > 400:
            continue
        for clkfb_div in range(1, 81):
            for clkop_div in range(1, 129):
                fvco = _f32(_f32(fpfd * clkfb_div) * clkop_div)
                if fvco < 400:
                    continue
                if fvco > 800:
                    break
                fout = _f32(fvco / clkop_div)
                err = _f32(abs(fout - target))
                if err < error or (err == error and best is not None
                                   and abs(fvco - 600) < abs(best["f_vco"] - 600)):
                    error = err
                    ns_phase = _f32(1 / (fout * 1e6) * 0.5)
                    best = dict(clki_div=clki_div, clkfb_div=clkfb_div, clkop_div=clkop_div,
                                clkop_cphase=int(ns_phase * (fvco * 1e6)), f_out=fout,
                                f_vco=fvco)
    return best


class PLLDomain(Elaboratable):
    """The ``sync`` clock domain at ``f_out_mhz`` from the board clock through the FPGA's PLL,
    held in reset until the PLL locks and while ``rst`` (a button) is high.

    family : "ice40" (SB_PLL40_PAD: on the iCEBreaker the 12 MHz pin is the PLL's own pad)
             or "ecp5" (EHXPLLL)
    """

    def __init__(self, family: str, clk_resource: str, f_out_mhz: float, rst=None):
        if family not in ("ice40", "ecp5"):
            raise ValueError(f"unknown FPGA family {family!r}")
        self.family, self.clk_resource, self.f_out_mhz, self.rst = \
            family, clk_resource, f_out_mhz, rst
        self.locked = Signal()

    def params(self, f_in_mhz):
        if self.family == "ice40":
            return ice40_pll_params(f_in_mhz, self.f_out_mhz)
        return ecp5_pll_params(f_in_mhz, self.f_out_mhz)

    def elaborate(self, platform):
        m = Module()
        port = platform.request(self.clk_resource, dir="-")
        f_in = platform.lookup(self.clk_resource).clock.frequency / 1e6
        p = self.params(f_in)
        # keep: the constrained net survives synthesis under this name
        clk = Signal(attrs={"keep": 1})
        if self.family == "ice40":
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", i_PACKAGEPIN=port.io, p_FEEDBACK_PATH="SIMPLE",
                p_DIVR=p["divr"], p_DIVF=p["divf"], p_DIVQ=p["divq"],
                p_FILTER_RANGE=p["filter_range"], i_RESETB=Const(1), i_BYPASS=Const(0),
                o_PLLOUTGLOBAL=clk, o_LOCK=self.locked)
        else:
            m.submodules.clk_buf = buf = io.Buffer("i", port)
            m.submodules.pll = Instance(
                "EHXPLLL",
                a_FREQUENCY_PIN_CLKI=f"{f_in:g}", a_FREQUENCY_PIN_CLKOP=f"{p['f_out']:g}",
                a_ICP_CURRENT="12", a_LPF_RESISTOR="8", a_MFG_ENABLE_FILTEROPAMP="1",
                a_MFG_GMCREF_SEL="2",
                p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED", p_STDBY_ENABLE="DISABLED",
                p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA", p_OUTDIVIDER_MUXB="DIVB",
                p_OUTDIVIDER_MUXC="DIVC", p_OUTDIVIDER_MUXD="DIVD",
                p_CLKI_DIV=p["clki_div"], p_CLKOP_ENABLE="ENABLED", p_CLKOP_DIV=p["clkop_div"],
                p_CLKOP_CPHASE=p["clkop_cphase"], p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKFB_DIV=p["clkfb_div"], i_RST=Const(0), i_STDBY=Const(0), i_CLKI=buf.i,
                o_CLKOP=clk, i_CLKFB=clk, i_PHASESEL0=Const(0), i_PHASESEL1=Const(0),
                i_PHASEDIR=Const(1), i_PHASESTEP=Const(1), i_PHASELOADREG=Const(1),
                i_PLLWAKESYNC=Const(0), i_ENCLKOP=Const(0), o_LOCK=self.locked)
        m.domains.sync = cd = ClockDomain("sync")
        m.d.comb += cd.clk.eq(clk)
        platform.add_clock_constraint(clk, p["f_out"] * 1e6)
        rst = ~self.locked if self.rst is None else (~self.locked | self.rst)
        m.submodules.rst_sync = ResetSynchronizer(rst, domain="sync")
        return m
