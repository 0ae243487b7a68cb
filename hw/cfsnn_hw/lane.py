"""One CF neuron lane: leak, exact add, saturation, circulate-firing, reset (pipelined)."""

from amaranth import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from cfsnn import formats as F


class CFLane(wiring.Component):
    """The neuron update of SPEC section 4 for one neuron, in a pipeline of LATENCY cycles
    (one result per cycle).

    Parameters
    ----------
    v_bits : membrane width of the build (the saturation bounds come in at run time)
    acc_bits : accumulator width of the build

    Attributes
    ----------
    acc : In(signed(acc_bits)), the synaptic sum of this step with its bias, a = W s + b
    u : In(signed(v_bits)), the membrane after the previous step
    theta : In(unsigned(v_bits)), threshold >= 1 (CF layers)
    k : In(3), K
    leak : In(4), leak shift
    bipolar, reset_zero, readout : In(1) flags (readout: integrate, never fire)
    vmin, vmax : In(signed(v_bits)), saturation bounds of the model's v_bits
    u_next : Out(signed(v_bits)), the membrane after this step
    spike : Out(signed(SPIKE_BITS)), the spike of this step (0 for a readout)
    """

    def __init__(self, *, v_bits: int = 16, acc_bits: int = 24):
        for name, v in (("v_bits", v_bits), ("acc_bits", acc_bits)):
            if not isinstance(v, int) or isinstance(v, bool):
                raise TypeError(f"{name} must be an int, not {v!r}")
        if not F.V_BITS_RANGE[0] <= v_bits <= acc_bits:
            raise ValueError(f"v_bits must be in [{F.V_BITS_RANGE[0]}, acc_bits={acc_bits}], "
                             f"not {v_bits}")
        self.v_bits, self.acc_bits = v_bits, acc_bits
        super().__init__({
            "acc": In(signed(acc_bits)),
            "u": In(signed(v_bits)), "theta": In(unsigned(v_bits)),
            "k": In(3), "leak": In(4), "bipolar": In(1), "reset_zero": In(1), "readout": In(1),
            "vmin": In(signed(v_bits)), "vmax": In(signed(v_bits)),
            "u_next": Out(signed(v_bits)), "spike": Out(signed(F.SPIKE_BITS)),
        })

    #: Cycles from the inputs to the outputs: H is registered after the charge, the
    #: comparator ladder's result after the fire; the reset is combinational on top.
    LATENCY = 2

    def elaborate(self, platform):
        m = Module()
        V = self.v_bits
        # stage 1, charge: L = U - (U >> k), H = sat(L + a), a = W s + b (exact)
        leaked = Signal(signed(V + 1))
        total = Signal(signed(max(V, self.acc_bits) + 2))
        h_c = Signal(signed(V))
        m.d.comb += [
            leaked.eq(Mux(self.leak == 0, self.u, self.u - (self.u >> self.leak))),
            total.eq(leaked + self.acc),
            h_c.eq(Mux(total > self.vmax, self.vmax, Mux(total < self.vmin, self.vmin, total))),
        ]
        h1 = Signal(signed(V))
        theta1 = Signal(unsigned(V))
        k1 = Signal(3)
        flags = Cat(self.bipolar, self.reset_zero, self.readout)
        flags1 = Signal(3)
        m.d.sync += [h1.eq(h_c), theta1.eq(self.theta), k1.eq(self.k), flags1.eq(flags)]
        # stage 2, fire: m = min(K, floor(|H| / theta)) by a ladder of K comparators
        mag = Signal(unsigned(V + 1))                # |H|, one bit wider
        m.d.comb += mag.eq(Mux(h1 < 0, -h1, h1))
        prev_c, prev_t = 0, 0
        for kk in range(1, F.K_MAX + 1):
            kt = Signal(unsigned(V + 3), name=f"theta_x{kk}")
            ge = Signal(name=f"ge{kk}")
            # k x theta by shifts and adds: no multiplier (and no DSP block) per lane
            m.d.comb += [kt.eq(sum(theta1 << b for b in range(3) if kk >> b & 1)),
                         ge.eq((mag >= kt) & (k1 >= kk))]
            c_k = Signal(range(F.K_MAX + 1), name=f"count{kk}")
            t_k = Signal(unsigned(V + 3), name=f"mtheta{kk}")
            m.d.comb += [c_k.eq(Mux(ge, kk, prev_c)), t_k.eq(Mux(ge, kt, prev_t))]
            prev_c, prev_t = c_k, t_k
        h = Signal(signed(V))
        count = Signal(range(F.K_MAX + 1))
        m_theta = Signal(unsigned(V + 3))
        flags2 = Signal(3)
        m.d.sync += [h.eq(h1), count.eq(prev_c), m_theta.eq(prev_t), flags2.eq(flags1)]
        bipolar, reset_zero, readout = flags2[0], flags2[1], flags2[2]
        # output: signed spike, and the reset
        pos = h >= 0
        spike = Signal(signed(F.SPIKE_BITS))
        with m.If(readout):
            m.d.comb += [spike.eq(0), self.u_next.eq(h)]
        with m.Elif(pos):
            m.d.comb += spike.eq(count)
        with m.Elif(bipolar):
            m.d.comb += spike.eq(-count)
        with m.Else():
            m.d.comb += spike.eq(0)
        with m.If(~readout):
            with m.If(reset_zero):
                m.d.comb += self.u_next.eq(Mux(spike != 0, 0, h))
            with m.Elif(pos):
                m.d.comb += self.u_next.eq(h - m_theta)
            with m.Elif(bipolar):
                m.d.comb += self.u_next.eq(h + m_theta)
            with m.Else():
                m.d.comb += self.u_next.eq(h)
        m.d.comb += self.spike.eq(spike)
        return m
