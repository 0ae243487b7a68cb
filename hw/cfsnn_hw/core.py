"""The inference core: a P-lane synapse engine, Q CF lanes, a sequencer, a host bus.

Dataflow of one layer at one step (docs/HARDWARE.md has the cycle accounting), after the
layer's configuration is LOADed from the configuration memory:

1. ACCUM. A scanner reads the layer's inputs one per cycle (input codes for the first
   layer, the previous layer's spikes otherwise) and pushes every non-zero one into a small
   event FIFO. The synapse engine pops events back to back; for each it spends
   G = ceil(n_out / P) cycles adding ``w * s`` into P exact accumulators per cycle
   (read, multiply-add, write; consecutive events may hit the same word: the accumulator
   read port is transparent, or, without ``ACC_BYPASS``, the engine spaces them). Zero
   inputs cost no synaptic work.
2. FIRE. ceil(n_out / Q) cycles: each reads Q accumulators, biases, membranes and
   thresholds, runs the Q :class:`~cfsnn_hw.lane.CFLane` s, writes the membranes back,
   reloads the accumulators with their biases and writes the spikes into the spike memory
   (the next layer's input, and the record the host reads back).

After the last step the readout membranes are the logits; ARGMAX scans them (ties to the
lowest index). The host reaches everything through a word-addressed bus whose map is
:mod:`cfsnn.memmap`. Before running, CHECK (``HW_CHECK``) validates the configuration the
host wrote and refuses to run (STATUS.ERROR with an error code) rather than compute garbage.
The class attributes (``HW_CHECK``, ``ACC_BYPASS``, ``MAC_REG``, ``FIRE_REG``) and the
``memory`` / ``multiply_add`` hooks let a board's subclass trade them for area.
"""

import numpy as np
from amaranth import Array, Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from cfsnn import formats as F
from cfsnn import memmap as MM

from .lane import CFLane

BusSignature = wiring.Signature({
    "addr": Out(MM.ADDR_BITS), "w_data": Out(MM.DATA_BITS), "w_en": Out(1), "r_en": Out(1),
    "r_data": In(MM.DATA_BITS), "r_valid": In(1),
})
"""Host side of the core's bus: one access per cycle, in order. A write takes effect one
cycle after the cycle it is presented in; a read presented with ``r_en`` returns ``r_data``
with ``r_valid`` READ_LATENCY cycles later (a master waits for ``r_valid``)."""

#: Cycles from a read request (``r_en``) to its ``r_valid`` on :class:`CFCore`: the core
#: registers the request, reads its memories or registers, registers the lane each memory's
#: word holds (``READ_REG``), and registers the answer. A core class says its own:
#: ``core_class.read_latency()``.
READ_LATENCY = 4


def _bits(n: int) -> int:
    return max(1, (n - 1).bit_length()) if n > 1 else 1


class MemPorts:
    """One memory of the core as the core uses it: ``depth`` words of ``lanes`` fields of
    ``lane_bits``, one synchronous read port (``r_data`` follows ``r_addr`` one cycle later)
    and one write port with a write enable per lane. ``transparent``: a read of the word
    being written in the same cycle returns the new data (the core needs it only for the
    accumulators). :meth:`CFCore.memory` makes the storage behind it."""

    def __init__(self, name: str, lane_bits: int, lanes: int, depth: int, transparent: bool):
        self.name, self.lane_bits, self.lanes, self.depth = name, lane_bits, lanes, depth
        self.transparent = transparent
        self.width = lane_bits * lanes
        self.r_addr = Signal(range(max(2, depth)), name=f"{name}_r_addr")
        self.r_data = Signal(self.width, name=f"{name}_r_data")
        self.w_addr = Signal(range(max(2, depth)), name=f"{name}_w_addr")
        self.w_data = Signal(self.width, name=f"{name}_w_data")
        self.w_en = Signal(lanes, name=f"{name}_w_en")

    def lane(self, sig, j):
        return sig[j * self.lane_bits:(j + 1) * self.lane_bits]


class CFCore(wiring.Component):
    """The cfsnn inference core.

    Parameters
    ----------
    params : cfsnn.memmap.BuildParams, the build (lanes, memory depths, widths, maxima)

    Attributes
    ----------
    bus : In(BusSignature), the host's load/read interface (cfsnn.memmap)
    busy : Out(1), an inference is running
    done : Out(1), the last inference finished (cleared by CTRL.CLEAR or a new start)
    error : Out(1), the last start was refused (see STATUS)
    """

    #: The accumulator memory's read port is transparent to its write port, so the synapse
    #: engine can add consecutive events into the same word back to back. A board whose RAM
    #: is not transparent (iCE40 EBR: the bypass costs a P x acc_bits multiplexer) sets this
    #: False; the engine then leaves one idle cycle between events of a one-word layer.
    ACC_BYPASS = True
    #: The lane each memory's word holds is registered before the region multiplexer of a
    #: host read (a P-to-1 select after a block RAM's clock-to-output was the ECP5 build's
    #: longest path); it adds a cycle to READ_LATENCY. The iCE40 build, at half the clock,
    #: saves the registers.
    READ_REG = True

    @classmethod
    def read_latency(cls) -> int:
        """Cycles from a read request to its answer on this core class."""
        return 3 + int(cls.READ_REG)
    #: CHECK validates every layer's configuration before a run (ErrorCode). It costs about
    #: 700 logic cells; the iCE40 build leaves it out (the driver checks every model against
    #: the build and verifies what it loaded by reading it back). Without it the core still
    #: refuses a bad T, layer count or v_bits, clears all its neuron memories before each
    #: sample, and every loop ends for any configuration (no hang), but a layout that does
    #: not fit runs on wrapped addresses.
    HW_CHECK = True
    #: Register the fire stage's memory outputs before the lanes (one more pipeline stage):
    #: the membrane read, the accumulator word select and the lane's charge and saturation
    #: are too long for one cycle at the ECP5 build's clock. The iCE40 build saves the FFs.
    FIRE_REG = True
    #: Register the synapse products before the accumulator add (a three-stage synapse
    #: engine). Without it the product and the add happen in one cycle, in
    #: :meth:`multiply_add`, which the iCE40 core maps onto SB_MAC16 multiply-adders.
    MAC_REG = True
    #: Yosys commands run on this core's RTLIL before synthesis (board builds and the
    #: gate-level check). Every non-transparent read port is marked "a read/write collision
    #: returns X": no memory of the core uses a word read in the cycle it is written (the
    #: accumulators are the one case, and they are transparent or the engine spaces events),
    #: and without the mark Yosys wraps each block RAM in read-old-data logic (on the UP5K
    #: about 600 flip-flops and 400 LUTs).
    SCRIPT_AFTER_READ = r"setparam -set COLLISION_X_MASK 1 t:$memrd_v2 r:TRANSPARENCY_MASK=1'0 %i"

    def __init__(self, *, params: MM.BuildParams = MM.BuildParams()):
        if not isinstance(params, MM.BuildParams):
            raise TypeError(f"params must be a cfsnn.memmap.BuildParams, not {params!r}")
        self.params = params
        super().__init__({"bus": In(BusSignature), "busy": Out(1), "done": Out(1),
                          "error": Out(1)})

    def memory(self, m, mp: MemPorts):
        """Make the storage behind ``mp`` (an Amaranth Memory). A board top overrides this to
        map a memory onto its own RAM primitives (iCE40 SPRAM) without touching the core."""
        mem = Memory(shape=unsigned(mp.width), depth=mp.depth, init=[])
        m.submodules[mp.name] = mem
        wp = mem.write_port(granularity=mp.lane_bits)
        rp = mem.read_port(transparent_for=(wp,) if mp.transparent else ())
        m.d.comb += [wp.addr.eq(mp.w_addr), wp.data.eq(mp.w_data), wp.en.eq(mp.w_en),
                     rp.addr.eq(mp.r_addr), mp.r_data.eq(rp.data)]

    def multiply_add(self, m, j: int, weight, value, acc):
        """``acc + weight * value`` (all signed) in ``len(acc)`` bits, for synapse lane ``j``
        (used when ``MAC_REG`` is False; a board maps it onto its DSP blocks)."""
        return (acc + weight * value)[:len(acc)]

    def elaborate(self, platform):
        m = Module()
        p = self.params
        P, Q, V, A, WB = p.lanes, p.fire_lanes, p.v_bits, p.acc_bits, p.w_bits
        R = P // Q                       # fire words per synapse word
        LOGP, LOGQ, LOGR = (P - 1).bit_length(), (Q - 1).bit_length(), (R - 1).bit_length()
        NW, WW, LMAX = p.neuron_words, p.weight_words, p.max_layers
        NQ = NW * R                      # depth of the fire-side neuron memories
        SB = F.SPIKE_BITS
        bus = self.bus
        # the host's request is registered on its way in: the master's address arithmetic
        # and the core's decode are never in one cycle (READ_LATENCY counts this cycle)
        hb_addr, hb_w_data = Signal(MM.ADDR_BITS), Signal(MM.DATA_BITS)
        hb_w_en, hb_r_en = Signal(), Signal()
        m.d.sync += [hb_addr.eq(bus.addr), hb_w_data.eq(bus.w_data), hb_w_en.eq(bus.w_en),
                     hb_r_en.eq(bus.r_en)]

        # ---------------------------------------------------------------- memories
        # weights and accumulators are P lanes wide (the synapse engine); thresholds, biases,
        # membranes and spikes are Q lanes wide (the fire stage), addressed by the global
        # neuron index >> log2(Q)
        wm = MemPorts("weights", WB, P, WW, False)
        am = MemPorts("acc", A, P, NW, self.ACC_BYPASS)
        thm = MemPorts("theta", V, Q, NQ, False)
        bm = MemPorts("bias", A, Q, NQ, False)
        um = MemPorts("membrane", V, Q, NQ, False)
        sm = MemPorts("spikes", SB, Q, p.t_max * NQ, False)
        for mp in (wm, am, thm, bm, um, sm):
            self.memory(m, mp)
        imem = Memory(shape=unsigned(8), depth=p.input_depth, init=[])
        m.submodules.inputs = imem
        i_w = imem.write_port()
        i_r = imem.read_port()

        def lane(sig, j, bits):
            return sig[j * bits:(j + 1) * bits]

        # ---------------------------------------------------------------- registers
        CB, LB, LF = MM.CONFIG_BITS, MM.LAYER_FIELD_BITS, MM.LayerField
        T = Signal(CB["T"])
        n_layers = Signal(CB["N_LAYERS"])
        vbits = Signal(CB["V_BITS"], init=V)
        dynamic = Signal(CB["INPUT_MODE"])

        # the per-layer configuration lives in a small memory at the register window
        # LAYER + 8 * layer + field (one 32-bit word per field, the stored bits of each field
        # kept on write): the sequencer loads one layer's fields at a time (LOAD), so no wide
        # per-layer register file or layer-indexed multiplexers are needed
        cfgmem = Memory(shape=unsigned(32), depth=LMAX * MM.LAYER_STRIDE, init=[])
        m.submodules.layer_config = cfgmem
        cfg_w = cfgmem.write_port()
        cfg_r = cfgmem.read_port()
        # the layer being checked or run, as loaded from the configuration memory
        L_kind, L_n_in, L_n_out = Signal(LB[LF.KIND]), Signal(LB[LF.N_IN]), Signal(LB[LF.N_OUT])
        L_k, L_flags, L_leak = Signal(LB[LF.K]), Signal(LB[LF.FLAGS]), Signal(LB[LF.LEAK])
        L_wbase, L_nbase = Signal(LB[LF.WEIGHT_BASE]), Signal(LB[LF.NEURON_BASE])
        layer_fields = {LF.KIND: L_kind, LF.N_IN: L_n_in, LF.N_OUT: L_n_out, LF.K: L_k,
                        LF.FLAGS: L_flags, LF.LEAK: L_leak, LF.WEIGHT_BASE: L_wbase,
                        LF.NEURON_BASE: L_nbase}
        assert sorted(layer_fields) == list(range(MM.LAYER_STRIDE))

        busy, done, error, awb, bad_addr = Signal(), Signal(), Signal(), Signal(), Signal()
        err_code = Signal(8)
        err_layer = Signal(4)
        cycles = Signal(32)
        events = Signal(32)
        synops = Signal(32)
        prediction = Signal(16)
        spike_count = Array(Signal(32, name=f"spikes{i}") for i in range(LMAX))
        # a start is taken one cycle after its CTRL write (the host's address decode and the
        # start checks are not in one cycle); STATUS.BUSY is set from the write on
        start_r = Signal()
        m.d.comb += [self.busy.eq(busy | start_r), self.done.eq(done), self.error.eq(error)]

        # ---------------------------------------------------------------- host bus
        region = hb_addr[MM.REGION_SHIFT:]
        off = hb_addr[:MM.REGION_SHIFT]
        h_pword, h_qword = off >> LOGP, off >> LOGQ          # weights; neuron memories
        h_plane = off[:LOGP] if LOGP else Const(0, 1)
        h_qlane = off[:LOGQ] if LOGQ else Const(0, 1)
        start = Signal()
        is_mem = (region != MM.Region.REG)
        with m.If(hb_w_en & is_mem & busy):
            m.d.sync += awb.eq(1)
        with m.If(hb_r_en & is_mem & busy):
            m.d.sync += awb.eq(1)
        host_w = hb_w_en & ~busy
        depth_of = {MM.Region.WEIGHT: WW * P, MM.Region.THETA: NW * P, MM.Region.BIAS: NW * P,
                    MM.Region.MEMBRANE: NW * P, MM.Region.INPUT: p.input_depth}
        # the offset is checked against its region's depth as the request comes in, and the
        # result registered with it: the write enables (to the SPRAMs at the die's edge on
        # iCE40) then start from registers
        in_range = Signal()
        region_depth = Signal(MM.REGION_SHIFT + 1)     # one comparator, a limit per region
        with m.Switch(bus.addr[MM.REGION_SHIFT:]):
            for rid, depth in depth_of.items():
                with m.Case(rid):
                    m.d.comb += region_depth.eq(depth)
        m.d.sync += in_range.eq(bus.addr[:MM.REGION_SHIFT] < region_depth)
        with m.If(host_w & is_mem & ~in_range):
            m.d.sync += bad_addr.eq(1)
        onehot_p, onehot_q = Signal(P), Signal(Q)
        m.d.comb += [onehot_p.eq(1 << h_plane), onehot_q.eq(1 << h_qlane)]

        def rep(bits, n):
            return Cat(*([hb_w_data[:bits]] * n))

        def host_en(region_id, onehot):
            return Mux(host_w & in_range & (region == region_id), onehot, 0)

        m.d.comb += [wm.w_addr.eq(h_pword), wm.w_data.eq(rep(WB, P)),
                     wm.w_en.eq(host_en(MM.Region.WEIGHT, onehot_p))]
        for region_id, mp in ((MM.Region.THETA, thm), (MM.Region.BIAS, bm)):
            m.d.comb += [mp.w_addr.eq(h_qword), mp.w_data.eq(rep(mp.lane_bits, Q)),
                         mp.w_en.eq(host_en(region_id, onehot_q))]
        m.d.comb += [i_w.addr.eq(off), i_w.data.eq(hb_w_data[:8]),
                     i_w.en.eq(host_w & in_range & (region == MM.Region.INPUT))]

        reg_off = off[:8]
        with m.If(host_w & (region == MM.Region.REG)):
            with m.Switch(reg_off):
                with m.Case(MM.Reg.CTRL):
                    m.d.comb += start.eq(hb_w_data[0])
                    with m.If(hb_w_data[1]):
                        m.d.sync += [done.eq(0), error.eq(0), awb.eq(0), bad_addr.eq(0),
                                     err_code.eq(0), err_layer.eq(0)]
                with m.Case(MM.Reg.T):
                    m.d.sync += T.eq(hb_w_data)
                with m.Case(MM.Reg.N_LAYERS):
                    m.d.sync += n_layers.eq(hb_w_data)
                with m.Case(MM.Reg.V_BITS):
                    m.d.sync += vbits.eq(hb_w_data)
                with m.Case(MM.Reg.INPUT_MODE):
                    m.d.sync += dynamic.eq(hb_w_data[0])
        is_cfg = (region == MM.Region.REG) & (reg_off >= MM.Reg.LAYER) \
            & (reg_off < MM.Reg.LAYER + LMAX * MM.LAYER_STRIDE)
        field_mask = Array(Const((1 << LB[LF(f)]) - 1, 32) for f in range(MM.LAYER_STRIDE))
        with m.If(is_cfg & busy & (hb_w_en | hb_r_en)):
            m.d.sync += awb.eq(1)
        m.d.comb += [cfg_w.addr.eq(reg_off - MM.Reg.LAYER),
                     cfg_w.data.eq(hb_w_data & field_mask[reg_off[:3]]),
                     cfg_w.en.eq(host_w & is_cfg)]

        # reads: registers answer from a mux; memories through their read ports (when idle)
        r_pending = Signal()
        r_region = Signal(4)
        r_plane = Signal(max(1, LOGP))
        r_qlane = Signal(max(1, LOGQ))
        r_regval = Signal(32)
        r_cfg = Signal()
        m.d.sync += [r_pending.eq(hb_r_en), r_region.eq(region), r_plane.eq(h_plane),
                     r_qlane.eq(h_qlane), r_cfg.eq(is_cfg)]
        regval = Signal(32)
        status = Cat(busy | start_r, done, error, awb, bad_addr, Const(0, 3), err_code, err_layer)
        info = p.info_registers()
        with m.Switch(reg_off):
            for reg, val in info.items():
                with m.Case(int(reg)):
                    m.d.comb += regval.eq(val)
            for reg, sig in ((MM.Reg.STATUS, status), (MM.Reg.T, T), (MM.Reg.N_LAYERS, n_layers),
                             (MM.Reg.V_BITS, vbits), (MM.Reg.INPUT_MODE, dynamic),
                             (MM.Reg.CYCLES, cycles), (MM.Reg.EVENTS, events),
                             (MM.Reg.SYNOPS, synops),
                             (MM.Reg.PREDICTION, prediction)):
                with m.Case(int(reg)):
                    m.d.comb += regval.eq(sig)
            for i in range(LMAX):
                with m.Case(MM.Reg.SPIKES + i):
                    m.d.comb += regval.eq(spike_count[i])
        m.d.sync += r_regval.eq(Mux(region == MM.Region.REG, regval, 0))

        def lane_of(mp, sel, signed_=True):
            v = Array(mp.lane(mp.r_data, j) for j in range(mp.lanes))[sel]
            return v.as_signed() if signed_ else v

        # the lane of each memory's word is registered first (READ_REG), then the answer on
        # its way out (READ_LATENCY counts both cycles): the region mux is between registers
        lanes_q = {
            MM.Region.REG: r_regval,
            MM.Region.WEIGHT: lane_of(wm, r_plane),
            MM.Region.THETA: lane_of(thm, r_qlane, False),
            MM.Region.BIAS: lane_of(bm, r_qlane),
            MM.Region.MEMBRANE: lane_of(um, r_qlane),
            MM.Region.INPUT: i_r.data,
            MM.Region.SPIKE: lane_of(sm, r_qlane),
        }
        sel = {}
        for rid, v in lanes_q.items():
            if self.READ_REG:
                sel[rid] = Signal(v.shape(), name=f"rd_{MM.Region(rid).name.lower()}")
                m.d.sync += sel[rid].eq(v)
            else:
                sel[rid] = v
        r_busy = Signal()
        m.d.sync += r_busy.eq(busy)
        if self.READ_REG:
            q_cfg_data = Signal(32)
            q_pending, q_region, q_cfg, q_busy = Signal(), Signal(4), Signal(), Signal()
            m.d.sync += [q_cfg_data.eq(cfg_r.data), q_pending.eq(r_pending),
                         q_region.eq(r_region), q_cfg.eq(r_cfg), q_busy.eq(r_busy)]
        else:
            q_cfg_data, q_pending, q_region, q_cfg, q_busy = \
                cfg_r.data, r_pending, r_region, r_cfg, r_busy
        rd_valid, rd_data = Signal(), Signal(MM.DATA_BITS)
        m.d.sync += [bus.r_valid.eq(rd_valid), bus.r_data.eq(rd_data)]
        with m.If(q_pending):
            m.d.comb += rd_valid.eq(1)
            with m.If(q_busy & ((q_region != MM.Region.REG) | q_cfg)):
                m.d.comb += rd_data.eq(0)
            with m.Elif(q_cfg):
                m.d.comb += rd_data.eq(q_cfg_data)
            with m.Else():
                with m.Switch(q_region):
                    for rid, v in sel.items():
                        with m.Case(rid):
                            m.d.comb += rd_data.eq(v)

        # ---------------------------------------------------------------- sequencer state
        # address registers are as wide as the addresses (CHECK proved every base + size fits)
        WNW, WNQ = NW.bit_length(), NQ.bit_length()
        WSQ, WIN = (p.t_max * NQ).bit_length(), p.input_depth.bit_length()
        t = Signal(16)
        li = Signal(range(max(2, LMAX)))   # the layer being checked or run
        ld_f = Signal(range(MM.LAYER_STRIDE + 1))
        checking = Signal()
        clr = Signal(range(max(2, NQ)))
        t_sbase = Signal(WSQ)         # t * NQ: spike memory word base of step t
        in_base = Signal(WIN)          # t * n_in of layer 0 (dynamic input) or 0
        cur_kind, cur_n_out = L_kind, L_n_out
        cur_k, cur_leak = L_k[:3], L_leak[:4]        # CHECK proved they fit
        cur_bip, cur_rz = L_flags[0], L_flags[1]
        n_in0 = Signal(16)            # layer 0's n_in: the per-step input stride
        cur_nbase = Signal(WNW)       # in synapse words (P neurons)
        cur_qbase = Signal(WNQ)       # the same, in fire words (Q neurons)
        cur_g = Signal(16)            # synapse words of the layer: ceil(n_out / P)
        cur_fq = Signal(16)           # fire words of the layer: ceil(n_out / Q)
        prev_qbase = Signal(WNQ)
        vmin = Signal(signed(V))
        vmax = Signal(signed(V))

        # scanner: issue a read, get the value, register it, test it (three stages)
        scan_i = Signal(16)
        # scan_i < n_in, kept in a register (set up per layer, updated as scan_i advances by an
        # equality with n_in - 1): no comparator in front of the scanner's issue and ACCUM's exit
        scan_more = Signal()
        n_in_m1 = Signal(16)
        scan_row = Signal(_bits(WW + 1) + 1)
        p_valid = Signal()
        p_idx = Signal(16)
        p_row = Signal(_bits(WW + 1) + 1)
        q_valid = Signal()
        q_val = Signal(signed(9))
        q_row = Signal(_bits(WW + 1) + 1)
        scanning = Signal()
        # event FIFO: (row address, signed value). The scanner issues a read only when the
        # FIFO has room for it and for everything already in flight, so it never retries.
        RB = _bits(WW + 1) + 1
        fifo = SyncFIFOBuffered(width=RB + 9, depth=EVENT_FIFO_DEPTH + 1)
        m.submodules.events = fifo
        # MAC engine
        mac_busy = Signal()
        mac_row = Signal(RB)
        mac_val = Signal(signed(9))
        mac_g = Signal(16)
        # synapse pipeline (MAC_REG): weight read (s1), weights registered (s1b), product
        # and accumulator read (s2), both registered (s3), add and write back. Back-to-back
        # events on one word: see fwd3 and fwd1. Without MAC_REG: weight and accumulator
        # read (s1), multiply-add and write back; the transparent read port (ACC_BYPASS)
        # covers back-to-back events on one word.
        s1_valid = Signal()
        s1_addr = Signal(WNW)
        s1_val = Signal(signed(9))
        s2_valid = Signal()
        s2_addr = Signal(WNW)
        prod = Signal(P * (WB + 9))
        # fire: one word of Q neurons per cycle
        f_q = Signal(16)
        f_issue = Signal()
        sf_valid = Signal()           # the fire reads are back: lane inputs, bias reload
        sf_aaddr = Signal(WNW)        # its accumulator word
        sf_sub = Signal(max(1, LOGR))  # which Q lanes of the accumulator word
        # the lanes' results, CFLane.LATENCY cycles later: membrane and spike writes
        fo_valid = Signal()
        fo_q = Signal(16)             # fire words written so far (writes come in issue order)
        fo_addr = Signal(WNQ)
        # argmax
        NB = (p.max_neurons + 1).bit_length() if self.HW_CHECK else 16
        am_j = Signal(NB)
        am_issue = Signal()
        am_pvalid = Signal()
        am_pj = Signal(NB)
        best = Signal(signed(V))
        best_j = Signal(NB)
        clearing = Signal()
        FIRE_LAT = CFLane.LATENCY + int(self.FIRE_REG)   # lane inputs -> lane outputs
        drain = Signal(range(FIRE_LAT + 3))
        cl_valid = Signal()           # CLEAR's accumulator write, one cycle after its bias read
        cl_addr = Signal(range(max(2, NQ)))
        used_words = Signal(WNQ + 1)       # fire words the configured model occupies

        m.d.sync += start_r.eq(start)
        with m.If(busy):
            m.d.sync += cycles.eq(cycles + 1)

        # ---------------------------------------------------------------- scanner datapath
        read_layer0 = li == 0
        scan_issue = Signal()
        scan_val = Signal(signed(9))
        m.d.comb += [
            i_r.addr.eq(Mux(busy, in_base + scan_i, off)),
            sm.r_addr.eq(Mux(busy, t_sbase + prev_qbase + (scan_i >> LOGQ), h_qword)),
        ]
        spike_lane = Array(lane(sm.r_data, j, SB).as_signed() for j in range(Q))[
            p_idx[:LOGQ] if LOGQ else 0]
        m.d.comb += scan_val.eq(Mux(read_layer0, i_r.data, spike_lane))
        in_flight = Signal(range(EVENT_FIFO_DEPTH + 3))
        m.d.comb += [
            in_flight.eq(fifo.level + p_valid + q_valid),
            scan_issue.eq(scanning & scan_more & (in_flight < EVENT_FIFO_DEPTH)),
            fifo.w_data.eq(Cat(q_row[:RB], q_val)),
            fifo.w_en.eq(q_valid & (q_val != 0)),
        ]
        m.d.sync += [p_valid.eq(scan_issue), p_idx.eq(scan_i), p_row.eq(scan_row),
                     q_valid.eq(p_valid), q_val.eq(scan_val), q_row.eq(p_row)]
        with m.If(scan_issue):
            m.d.sync += [scan_i.eq(scan_i + 1), scan_row.eq(scan_row + cur_g),
                         scan_more.eq(scan_i != n_in_m1)]
        with m.If(fifo.w_en):
            m.d.sync += [events.eq(events + 1), synops.eq(synops + cur_n_out)]

        # ---------------------------------------------------------------- synapse engine
        mac_last = mac_g + 1 >= cur_g
        if self.ACC_BYPASS:
            start_new = fifo.r_rdy & (~mac_busy | mac_last)
        else:
            # one word per event: the next event's accumulator read must not meet this
            # event's write in the same cycle
            one_word = Signal()
            m.d.sync += one_word.eq(cur_g == 1)
            start_new = fifo.r_rdy & (~mac_busy | (mac_last & ~one_word))
        m.d.comb += fifo.r_en.eq(start_new)
        with m.If(start_new):
            m.d.sync += [mac_busy.eq(1), mac_row.eq(fifo.r_data[:RB]),
                         mac_val.eq(fifo.r_data[RB:].as_signed()), mac_g.eq(0)]
        with m.Elif(mac_busy & mac_last):
            m.d.sync += mac_busy.eq(0)
        with m.Elif(mac_busy):
            m.d.sync += mac_g.eq(mac_g + 1)
        m.d.sync += [s1_valid.eq(mac_busy), s1_addr.eq(cur_nbase + mac_g), s1_val.eq(mac_val)]
        s1b_valid, s1b_addr, s1b_val = Signal(), Signal(WNW), Signal(signed(9))
        if self.MAC_REG:
            # four stages: weight read; weights registered (the block RAM's clock-to-output
            # and the multiplier are not in one cycle); product registered and accumulator
            # read; add and write back
            w_reg = Signal(P * WB)
            m.d.sync += [w_reg.eq(wm.r_data), s1b_valid.eq(s1_valid), s1b_addr.eq(s1_addr),
                         s1b_val.eq(s1_val), s2_valid.eq(s1b_valid), s2_addr.eq(s1b_addr),
                         prod.eq(Cat(*[(lane(w_reg, j, WB).as_signed() * s1b_val)[:WB + 9]
                                       for j in range(P)]))]

        # ---------------------------------------------------------------- lanes
        lanes = []
        acc_sub = Array(Cat(*[lane(am.r_data, s * Q + j, A) for j in range(Q)]) for s in range(R))[
            sf_sub if LOGR else 0]
        lane_in = Cat(acc_sub, um.r_data, thm.r_data)
        if self.FIRE_REG:
            lane_in_r = Signal(len(lane_in), reset_less=True)
            m.d.sync += lane_in_r.eq(lane_in)
            lane_in = lane_in_r
        l_acc = lane_in[:Q * A]
        l_u = lane_in[Q * A:Q * (A + V)]
        l_th = lane_in[Q * (A + V):]
        for j in range(Q):
            ln = CFLane(v_bits=V, acc_bits=A)
            m.submodules[f"lane{j}"] = ln
            lanes.append(ln)
            m.d.comb += [ln.acc.eq(lane(l_acc, j, A).as_signed()),
                         ln.u.eq(lane(l_u, j, V).as_signed()),
                         ln.theta.eq(lane(l_th, j, V)),
                         ln.k.eq(cur_k), ln.leak.eq(cur_leak), ln.bipolar.eq(cur_bip),
                         ln.reset_zero.eq(cur_rz), ln.readout.eq(cur_kind),
                         ln.vmin.eq(vmin), ln.vmax.eq(vmax)]
        # lane j of fire word fo_q holds a neuron iff fo_q * Q + j < n_out: every word but the
        # last is full, and the last word's lanes (tail_ok) are set up per layer, so no
        # comparator sits in front of the membrane and spike writes
        lane_ok = Signal(Q)
        fq_last = Signal(16)
        tail_ok = Signal(Q)
        m.d.comb += lane_ok.eq(Mux(fo_q == fq_last, tail_ok, (1 << Q) - 1))

        # memory read addresses while running
        with m.If(busy):
            m.d.comb += [
                wm.r_addr.eq(mac_row + mac_g),
                am.r_addr.eq(Mux(f_issue, cur_nbase + (f_q >> LOGR),
                                 s1b_addr if self.MAC_REG else cur_nbase + mac_g)),
                bm.r_addr.eq(Mux(clearing, clr, cur_qbase + f_q)),
                thm.r_addr.eq(cur_qbase + f_q),
                um.r_addr.eq(Mux(am_issue, cur_qbase + (am_j >> LOGQ), cur_qbase + f_q)),
            ]
        with m.Else():
            m.d.comb += [wm.r_addr.eq(h_pword), am.r_addr.eq(h_pword), bm.r_addr.eq(h_qword),
                         thm.r_addr.eq(h_qword), um.r_addr.eq(h_qword)]

        # accumulator writes: fire (reload the bias) > synapse engine > sample clear (load
        # the bias). An accumulator therefore holds b + (the events added so far): every
        # partial sum is a value of a = W s + b for some input, inside the proven range.
        s3_valid = Signal()
        if self.MAC_REG:
            # the accumulator word and the product are registered (s3), then added and
            # written: the block RAM's clock-to-output and the adder are not in one cycle.
            # The word read for an event can miss the write of the event just before it
            # (in s3 as it is registered; ``fwd3``) and, without a transparent read port,
            # the write one cycle older (``fwd1``): both are forwarded.
            s3_addr = Signal(WNW)
            acc_q = Signal(P * A)
            prod_q = Signal.like(prod)
            sums = Cat(*[(lane(acc_q, j, A).as_signed()
                          + lane(prod_q, j, WB + 9).as_signed())[:A] for j in range(P)])
            fwd3, fwd1 = Signal(), Signal()
            # decided a cycle ahead, from the addresses one stage earlier
            m.d.sync += [fwd3.eq(s2_valid & s1b_valid & (s2_addr == s1b_addr)),
                         fwd1.eq(s3_valid & s1b_valid & (s3_addr == s1b_addr))]
            acc_in = am.r_data
            if not self.ACC_BYPASS:
                w1_data = Signal(P * A)
                m.d.sync += w1_data.eq(sums)
                acc_in = Mux(fwd1, w1_data, acc_in)
            acc_in = Mux(fwd3, sums, acc_in)
            m.d.sync += [s3_valid.eq(s2_valid), s3_addr.eq(s2_addr), acc_q.eq(acc_in),
                         prod_q.eq(prod)]
            wr_valid, wr_addr = s3_valid, s3_addr
        else:
            # two stages: weight and accumulator read together, multiply-add and write
            sums = Cat(*[self.multiply_add(m, j, lane(wm.r_data, j, WB).as_signed(), s1_val,
                                           lane(am.r_data, j, A).as_signed())
                         for j in range(P)])
            wr_valid, wr_addr = s1_valid, s1_addr
        q_mask = Array(Const(((1 << Q) - 1) << (s * Q), P) for s in range(R))
        bias_rep = Cat(*([bm.r_data] * R))
        # the three writers are never active together (CLEAR, then ACCUM, then FIRE), so
        # one P x acc_bits multiplexer chooses the data
        m.d.comb += am.w_data.eq(Mux(wr_valid, sums, bias_rep))
        with m.If(wr_valid):
            m.d.comb += [am.w_addr.eq(wr_addr), am.w_en.eq(-1)]
        with m.Elif(sf_valid):
            m.d.comb += [am.w_addr.eq(sf_aaddr), am.w_en.eq(q_mask[sf_sub if LOGR else 0])]
        with m.Elif(cl_valid):
            m.d.comb += [am.w_addr.eq(cl_addr >> LOGR),
                         am.w_en.eq(q_mask[cl_addr[:LOGR] if LOGR else 0])]
        # membrane writes: fire > sample clear > host
        u_next = Cat(*[Mux(lane_ok[j], lanes[j].u_next, 0) for j in range(Q)])
        with m.If(fo_valid):
            m.d.comb += [um.w_addr.eq(fo_addr), um.w_data.eq(u_next), um.w_en.eq(-1)]
        with m.Elif(clearing):
            m.d.comb += [um.w_addr.eq(clr), um.w_data.eq(0), um.w_en.eq(-1)]
        with m.Else():
            m.d.comb += [um.w_addr.eq(h_qword), um.w_data.eq(rep(V, Q)),
                         um.w_en.eq(host_en(MM.Region.MEMBRANE, onehot_q))]
        # spike writes (CF layers)
        spikes = Cat(*[Mux(lane_ok[j], lanes[j].spike, 0) for j in range(Q)])
        m.d.comb += [sm.w_addr.eq(t_sbase + fo_addr), sm.w_data.eq(spikes),
                     sm.w_en.eq(Mux(fo_valid & ~cur_kind, -1, 0))]
        fired = Signal(range(Q + 1))
        m.d.comb += fired.eq(sum((lanes[j].spike != 0) & lane_ok[j] for j in range(Q)))
        layer_spikes = Signal(17)     # spikes of the current layer at this step (<= n_out)
        with m.If(fo_valid & ~cur_kind):
            m.d.sync += layer_spikes.eq(layer_spikes + fired)
        # delay line from the lane inputs to the lane outputs
        dv = sf_valid
        for i in range(FIRE_LAT):
            nv = Signal(name=f"fv{i}")
            m.d.sync += nv.eq(dv)
            dv = nv
        m.d.comb += [fo_valid.eq(dv), fo_addr.eq(cur_qbase + fo_q)]
        with m.If(fo_valid):
            m.d.sync += fo_q.eq(fo_q + 1)
        m.d.sync += [sf_valid.eq(f_issue),
                     sf_aaddr.eq(cur_nbase + (f_q >> LOGR)),
                     cl_valid.eq(clearing), cl_addr.eq(clr)]
        if LOGR:
            m.d.sync += sf_sub.eq(f_q[:LOGR])

        # argmax pipeline
        am_val = Array(lane(um.r_data, j, V).as_signed() for j in range(Q))[
            am_pj[:LOGQ] if LOGQ else 0]
        m.d.sync += [am_pvalid.eq(am_issue), am_pj.eq(am_j)]
        # the value is registered before its compare (membrane RAM, lane select and the
        # comparator in one cycle were the ECP5 build's longest path)
        am_qvalid, am_qj, am_qval = Signal(), Signal(NB), Signal(signed(V))
        m.d.sync += [am_qvalid.eq(am_pvalid), am_qj.eq(am_pj), am_qval.eq(am_val)]
        with m.If(am_qvalid):
            with m.If((am_qj == 0) | (am_qval > best)):
                m.d.sync += [best.eq(am_qval), best_j.eq(am_qj)]

        # ---------------------------------------------------------------- control
        vb_m1 = Signal(5)
        vpow = Signal(V + 1)
        m.d.comb += [vb_m1.eq(vbits - 1), vpow.eq(Const(1, 1) << vb_m1)]
        accum_done = ~scan_more & ~p_valid & ~q_valid & (fifo.level == 0) & ~mac_busy \
            & ~s1_valid & ~s1b_valid & ~s2_valid & ~s3_valid
        # CHECK per layer: LOAD the layer's fields, form n_in x G and T x n_in by shift and
        # add (CHECK_MUL_CYCLES, no multiplier), compare (one cycle): no DSP block is spent
        q_kind, q_n_in, q_n_out, q_k, q_leak = L_kind, L_n_in, L_n_out, L_k, L_leak
        q_nbase, q_wbase = L_nbase, L_wbase
        q_first, q_last = li == 0, li + 1 == n_layers
        q_prev_out = Signal(16)
        q_g = Signal(16)
        q_nend, q_wend, q_tin = Signal(33), Signal(34), Signal(32)
        mul_a = Signal(16)            # n_in, shifted right: its bits select the addends
        mul_g = Signal(32)            # G << bit
        mul_t = Signal(32)            # T << bit
        mul_n = Signal(range(CHECK_MUL_CYCLES + 1))
        # layers must occupy the memories in order, without overlapping: the first free
        # neuron and weight words after the layers checked so far
        chk_nfree = Signal(33)
        chk_wfree = Signal(34)
        c_err = Signal(8)
        with m.If(q_kind != q_last):
            m.d.comb += c_err.eq(MM.ErrorCode.BAD_KIND)
        with m.Elif((q_n_out == 0) | (q_n_out > p.max_neurons)):
            m.d.comb += c_err.eq(MM.ErrorCode.BAD_N_OUT)
        with m.Elif((q_n_in == 0) | (q_first & (q_n_in > p.input_depth)) |
                    (~q_first & (q_n_in != q_prev_out))):
            m.d.comb += c_err.eq(MM.ErrorCode.BAD_N_IN)
        with m.Elif(q_first & dynamic & (q_tin > p.input_depth)):
            m.d.comb += c_err.eq(MM.ErrorCode.INPUT_OVERFLOW)
        with m.Elif(~q_kind & ((q_k == 0) | (q_k > F.K_MAX))):
            m.d.comb += c_err.eq(MM.ErrorCode.BAD_K)
        with m.Elif(q_leak > F.LEAK_SHIFT_MAX):
            m.d.comb += c_err.eq(MM.ErrorCode.BAD_LEAK)
        with m.Elif(q_nend > NW):
            m.d.comb += c_err.eq(MM.ErrorCode.NEURON_OVERFLOW)
        with m.Elif(q_wend > WW):
            m.d.comb += c_err.eq(MM.ErrorCode.WEIGHT_OVERFLOW)
        with m.Elif((q_nbase < chk_nfree) | (q_wbase < chk_wfree)):
            m.d.comb += c_err.eq(MM.ErrorCode.LAYOUT)

        m.d.comb += cfg_r.addr.eq(Mux(busy, Cat(ld_f[:3], li), reg_off - MM.Reg.LAYER))

        def load(layer):
            """Go to LOAD for ``layer`` (its fields arrive in L_*)."""
            m.d.sync += [li.eq(layer), ld_f.eq(0)]
            m.next = "LOAD"

        # the start checks, registered (they were the longest path into the sequencer): a
        # register written in bus cycle c holds its value from c + 1, start_err from c + 2; the
        # CTRL write comes at c + 1 at the earliest and its start is taken at c + 2
        start_err = Signal(8)
        with m.If((T == 0) | (T > p.t_max)):
            m.d.sync += start_err.eq(MM.ErrorCode.BAD_T)
        with m.Elif((n_layers == 0) | (n_layers > LMAX)):
            m.d.sync += start_err.eq(MM.ErrorCode.BAD_N_LAYERS)
        with m.Elif((vbits < F.V_BITS_RANGE[0]) | (vbits > V)):
            m.d.sync += start_err.eq(MM.ErrorCode.BAD_V_BITS)
        with m.Else():
            m.d.sync += start_err.eq(0)

        last_layer, last_step = Signal(), Signal()
        spike_sum = Signal(32)

        with m.FSM(name="seq"):
            with m.State("IDLE"):
                with m.If(start_r):
                    m.d.sync += [busy.eq(1), done.eq(0), error.eq(0), err_code.eq(0),
                                 err_layer.eq(0), li.eq(0), ld_f.eq(0), checking.eq(1),
                                 cycles.eq(0), events.eq(0),
                                 synops.eq(0), chk_nfree.eq(0), chk_wfree.eq(0),
                                 used_words.eq(0)]
                    m.d.sync += [spike_count[i].eq(0) for i in range(LMAX)]
                    with m.If(start_err != 0):
                        m.d.sync += [busy.eq(0), error.eq(1), err_code.eq(start_err)]
                    with m.Else():
                        if self.HW_CHECK:
                            m.next = "LOAD"
                        else:
                            m.d.sync += [clr.eq(0), used_words.eq(NQ), vmax.eq(vpow - 1),
                                         vmin.eq(-vpow)]
                            m.next = "CLEAR"
            with m.State("LOAD"):
                # one field per cycle: read field ld_f, store field ld_f - 1
                m.d.sync += ld_f.eq(ld_f + 1)
                with m.Switch(ld_f):
                    for f, sig in layer_fields.items():
                        with m.Case(f + 1):
                            m.d.sync += sig.eq(cfg_r.data)
                with m.If(ld_f == MM.LAYER_STRIDE):
                    if self.HW_CHECK:
                        with m.If(checking):
                            m.next = "CHECK"
                        with m.Else():
                            m.next = "SETUP"
                    else:
                        m.next = "SETUP"
            if self.HW_CHECK:
                with m.State("CHECK"):
                    g = (L_n_out + (P - 1)) >> LOGP
                    m.d.sync += [q_g.eq(g), q_wend.eq(L_wbase), q_tin.eq(0),
                                 mul_a.eq(L_n_in), mul_g.eq(g), mul_t.eq(T), mul_n.eq(0)]
                    m.next = "CHECK_MUL"
                with m.State("CHECK_MUL"):
                    with m.If(mul_a[0]):
                        m.d.sync += [q_wend.eq(q_wend + mul_g), q_tin.eq(q_tin + mul_t)]
                    m.d.sync += [mul_a.eq(mul_a >> 1), mul_g.eq(mul_g << 1), mul_t.eq(mul_t << 1),
                                 mul_n.eq(mul_n + 1), q_nend.eq(q_nbase + q_g)]
                    with m.If(mul_n == CHECK_MUL_CYCLES - 1):
                        m.next = "CHECK_CMP"
                with m.State("CHECK_CMP"):
                    with m.If(c_err != 0):
                        m.d.sync += [busy.eq(0), error.eq(1), err_code.eq(c_err), err_layer.eq(li)]
                        m.next = "IDLE"
                    with m.Else():
                        m.d.sync += [used_words.eq(q_nend << LOGR), chk_nfree.eq(q_nend),
                                     chk_wfree.eq(q_wend), q_prev_out.eq(q_n_out)]
                        with m.If(q_last):
                            m.d.sync += [clr.eq(0), vmax.eq(vpow - 1), vmin.eq(-vpow)]
                            m.next = "CLEAR"
                        with m.Else():
                            load(li + 1)
            with m.State("CLEAR"):
                m.d.comb += clearing.eq(1)
                m.d.sync += clr.eq(clr + 1)
                with m.If(clr + 1 >= used_words):
                    m.d.sync += [t.eq(0), t_sbase.eq(0), in_base.eq(0), checking.eq(0)]
                    load(0)
            with m.State("SETUP"):
                # the derived values of the layer just loaded, and (registered here, so that
                # NEXT decides from flags) whether it is the last layer or step, and the
                # layer's spike count so far
                m.d.sync += [last_layer.eq(li + 1 >= n_layers), last_step.eq(t + 1 >= T),
                             spike_sum.eq(spike_count[li]),cur_nbase.eq(L_nbase), cur_qbase.eq(L_nbase << LOGR),
                             prev_qbase.eq(cur_qbase),
                             cur_g.eq((L_n_out + (P - 1)) >> LOGP),
                             cur_fq.eq((L_n_out + (Q - 1)) >> LOGQ),
                             fq_last.eq(Mux(L_n_out == 0, 0,
                                            ((L_n_out + (Q - 1)) >> LOGQ) - 1)),
                             tail_ok.eq(Mux(L_n_out == 0, 0, Cat(*[
                                 (L_n_out[:LOGQ] == 0) | (j < L_n_out[:LOGQ]) if LOGQ else 1
                                 for j in range(Q)]))),
                             scan_i.eq(0), scan_row.eq(L_wbase), layer_spikes.eq(0),
                             scan_more.eq(L_n_in != 0), n_in_m1.eq(L_n_in - 1),
                             fo_q.eq(0)]
                with m.If(li == 0):
                    m.d.sync += n_in0.eq(L_n_in)
                m.next = "ACCUM"
            with m.State("ACCUM"):
                m.d.comb += scanning.eq(1)
                with m.If(accum_done):
                    m.d.sync += f_q.eq(0)
                    m.next = "FIRE"
            with m.State("FIRE"):
                m.d.comb += f_issue.eq(1)
                m.d.sync += f_q.eq(f_q + 1)
                with m.If(f_q + 1 >= cur_fq):
                    m.d.sync += drain.eq(FIRE_LAT + 1)
                    m.next = "DRAIN"
            with m.State("DRAIN"):
                # wait for the lanes' last results: the next layer reads these spikes
                m.d.sync += drain.eq(drain - 1)
                with m.If(drain == 1):
                    m.next = "NEXT"
            with m.State("NEXT"):
                # the last membrane and spike writes landed a cycle ago, layer_spikes is final
                with m.Switch(li):
                    for i in range(LMAX):
                        with m.Case(i):
                            m.d.sync += spike_count[i].eq(spike_sum + layer_spikes)
                with m.If(~last_layer):
                    load(li + 1)
                with m.Elif(~last_step):
                    m.d.sync += [t.eq(t + 1), t_sbase.eq(t_sbase + NQ),
                                 in_base.eq(Mux(dynamic, in_base + n_in0, 0))]
                    load(0)
                with m.Else():
                    m.d.sync += am_j.eq(0)
                    m.next = "ARGMAX"
            with m.State("ARGMAX"):
                m.d.comb += am_issue.eq(am_j < cur_n_out)
                with m.If(am_j < cur_n_out):
                    m.d.sync += am_j.eq(am_j + 1)
                with m.Elif(~am_pvalid & ~am_qvalid):
                    m.next = "FINISH"
            with m.State("FINISH"):
                m.d.sync += [prediction.eq(best_j), busy.eq(0), done.eq(1)]
                m.next = "IDLE"
        return m


#: Depth of the event FIFO between the scanner and the synapse engine.
EVENT_FIFO_DEPTH = 4
#: Cycles per layer and step to LOAD the layer's configuration and set it up.
LOAD_CYCLES = MM.LAYER_STRIDE + 2
#: Cycles per layer and step besides scanning and firing: pipeline fill and drain of the
#: scanner, the event FIFO and the synapse engine, the last fire write, the layer's LOAD.
STEP_OVERHEAD = 12 + CFLane.LATENCY + LOAD_CYCLES
#: Cycles CHECK's shift-and-add products take (one per bit of N_IN).
CHECK_MUL_CYCLES = MM.LAYER_FIELD_BITS[MM.LayerField.N_IN]
#: Cycles per layer that CHECK spends validating the configuration.
CHECK_CYCLES = MM.LAYER_STRIDE + 1 + 2 + CHECK_MUL_CYCLES
#: Cycles per sample besides CHECK, CLEAR and ARGMAX: start, argmax pipeline, finish.
SAMPLE_OVERHEAD = 5


def cycle_budget(model, params: MM.BuildParams, events, core_class=None) -> tuple[int, int]:
    """(padded synaptic work, fixed overhead) in cycles for one sample, where ``events`` is
    the golden model's ``input_events[b]`` ([L, T] non-zero inputs per layer and step), on a
    core of ``core_class`` (default :class:`CFCore`).

    padded work = sum over layers and steps of events x ceil(n_out / lanes) (the synapse
    engine updates one word of ``lanes`` neurons per cycle); fixed overhead = per layer and
    step: n_in (the scan, one input per cycle, overlapped with the synapse work) +
    ceil(n_out / fire_lanes) (fire) + STEP_OVERHEAD; per sample: CHECK_CYCLES x n_layers +
    the fire words in use (CLEAR) + n_out of the readout (ARGMAX) + SAMPLE_OVERHEAD.
    Without the accumulator bypass (``ACC_BYPASS``) a one-word layer costs two cycles per
    event; without CHECK (``HW_CHECK``) CLEAR covers every neuron word of the build.
    The core's CYCLES counter never exceeds their sum (tests/hw, sim/)."""
    core_class = core_class or CFCore
    P, Q = params.lanes, params.fire_lanes
    G = [MM.ceil_div(l.n_out, P) for l in model.layers]
    FQ = [MM.ceil_div(l.n_out, Q) for l in model.layers]
    ev = np.asarray(events)
    work = int(sum(int(ev[i].sum()) * (2 if g == 1 and not core_class.ACC_BYPASS else g)
                   for i, g in enumerate(G)))
    per_step = sum(l.n_in + f + STEP_OVERHEAD for l, f in zip(model.layers, FQ))
    if core_class.HW_CHECK:
        setup = CHECK_CYCLES * len(model.layers) + sum(G) * (P // Q)
    else:
        setup = params.neuron_words * (P // Q)
    fixed = model.T * per_step + setup + model.layers[-1].n_out + SAMPLE_OVERHEAD
    return work, fixed
