"""The core on iCE40 UP5K primitives: weights in the four SPRAM blocks, everything else in EBR
(Yosys maps the other memories), the synapse multipliers in SB_MAC16 blocks."""

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

    def __init__(self, *, params: MM.BuildParams):
        check_spram_fit(params)
        super().__init__(params=params)

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
