"""One CF neuron lane: leak, exact add, saturation, circulate-firing, reset (combinational)."""

from amaranth import Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from cfsnn import formats as F


class CFLane(wiring.Component):
    """The neuron update of SPEC section 4 for one neuron, in one combinational step.

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

    def elaborate(self, platform):
        m = Module()
        V = self.v_bits
        # charge: a = W s + b (exact), L = U - (U >> k), H = sat(L + a)
        a = Signal(signed(self.acc_bits))
        leaked = Signal(signed(V + 1))
        total = Signal(signed(max(V, self.acc_bits) + 2))
        h = Signal(signed(V))
        m.d.comb += [
            a.eq(self.acc),
            leaked.eq(Mux(self.leak == 0, self.u, self.u - (self.u >> self.leak))),
            total.eq(leaked + a),
            h.eq(Mux(total > self.vmax, self.vmax, Mux(total < self.vmin, self.vmin, total))),
        ]
        # fire: m = min(K, floor(|H| / theta)) by a ladder of K comparators; |H| one bit wider
        mag = Signal(unsigned(V + 1))
        m.d.comb += mag.eq(Mux(h < 0, -h, h))
        count = Signal(range(F.K_MAX + 1))
        m_theta = Signal(unsigned(V + 3))
        prev_c, prev_t = 0, 0
        for kk in range(1, F.K_MAX + 1):
            kt = Signal(unsigned(V + 3), name=f"theta_x{kk}")
            ge = Signal(name=f"ge{kk}")
            m.d.comb += [kt.eq(self.theta * kk), ge.eq((mag >= kt) & (self.k >= kk))]
            c_k = Signal(range(F.K_MAX + 1), name=f"count{kk}")
            t_k = Signal(unsigned(V + 3), name=f"mtheta{kk}")
            m.d.comb += [c_k.eq(Mux(ge, kk, prev_c)), t_k.eq(Mux(ge, kt, prev_t))]
            prev_c, prev_t = c_k, t_k
        m.d.comb += [count.eq(prev_c), m_theta.eq(prev_t)]
        pos = h >= 0
        spike = Signal(signed(F.SPIKE_BITS))
        with m.If(self.readout):
            m.d.comb += [spike.eq(0), self.u_next.eq(h)]
        with m.Elif(pos):
            m.d.comb += spike.eq(count)
        with m.Elif(self.bipolar):
            m.d.comb += spike.eq(-count)
        with m.Else():
            m.d.comb += spike.eq(0)
        # reset: subtract S * theta, or zero where a spike fired
        with m.If(~self.readout):
            with m.If(self.reset_zero):
                m.d.comb += self.u_next.eq(Mux(spike != 0, 0, h))
            with m.Elif(pos):
                m.d.comb += self.u_next.eq(h - m_theta)
            with m.Elif(self.bipolar):
                m.d.comb += self.u_next.eq(h + m_theta)
            with m.Else():
                m.d.comb += self.u_next.eq(h)
        m.d.comb += self.spike.eq(spike)
        return m
