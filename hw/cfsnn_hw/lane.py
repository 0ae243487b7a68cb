"""One CF neuron lane: leak, exact add, saturation, circulate-firing, reset (pipelined)."""

from amaranth import Cat, Const, Module, Mux, Signal, signed, unsigned
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

    #: Cycles from the inputs to the outputs: the sum is registered after the charge, H and |H|
    #: after the saturation, the partial quotient after each of the three division steps, m and
    #: m x theta after the clamp; the spike and the reset are combinational. One neuron enters
    #: and one leaves per cycle.
    LATENCY = 6

    def elaborate(self, platform):
        m = Module()
        V = self.v_bits
        # stage 1, charge: L = U - (U >> k), T = L + a, a = W s + b (exact)
        leaked = Signal(signed(V + 1))
        total_c = Signal(signed(max(V, self.acc_bits) + 2))
        m.d.comb += [
            leaked.eq(Mux(self.leak == 0, self.u, self.u - (self.u >> self.leak))),
            total_c.eq(leaked + self.acc),
        ]
        total = Signal.like(total_c)
        theta0, k0, flags0 = Signal(unsigned(V)), Signal(3), Signal(3)
        flags = Cat(self.bipolar, self.reset_zero, self.readout)
        m.d.sync += [total.eq(total_c), theta0.eq(self.theta), k0.eq(self.k), flags0.eq(flags)]
        # stage 2, saturate: H = sat(T) to the model's v_bits
        h_c = Signal(signed(V))
        m.d.comb += h_c.eq(Mux(total > self.vmax, self.vmax,
                               Mux(total < self.vmin, self.vmin, total)))
        # ... and |H| beside it: the negation runs in parallel with the compares, so stage 3
        # starts its division from a register (abs then subtract was the longest path)
        mag_c = Signal(unsigned(V + 1))
        m.d.comb += mag_c.eq(Mux(total > self.vmax, self.vmax,
                                 Mux(total < self.vmin, -self.vmin,
                                     Mux(total < 0, -total, total))))
        h1 = Signal(signed(V))
        mag1 = Signal(unsigned(V + 1))
        theta1 = Signal(unsigned(V))
        k1 = Signal(3)
        flags1 = Signal(3)
        m.d.sync += [h1.eq(h_c), mag1.eq(mag_c), theta1.eq(theta0), k1.eq(k0),
                     flags1.eq(flags0)]
        # stages 3-5, divide: q = min(7, floor(|H| / theta)) by three restoring steps
        # against 4 theta, 2 theta, theta, one per stage. If |H| >= 8 theta every step
        # subtracts and q = 7, which is all the count needs (K <= 7); below that the steps
        # are exact long division.
        r, qv, hv, tv, kv, fv = mag1, Const(0, 3), h1, theta1, k1, flags1
        for b in (2, 1, 0):
            d = Signal(signed(V + 4), name=f"div{b}")
            m.d.comb += d.eq(r - (tv << b))
            ge = d >= 0
            nr, nq = Signal(unsigned(V + 1), name=f"rem{b}"), Signal(3, name=f"quot{b}")
            nh, nt = Signal(signed(V), name=f"h_d{b}"), Signal(unsigned(V), name=f"theta_d{b}")
            nk, nf = Signal(3, name=f"k_d{b}"), Signal(3, name=f"flags_d{b}")
            m.d.sync += [nr.eq(Mux(ge, d, r)), nq.eq(qv | (ge << b)), nh.eq(hv), nt.eq(tv),
                         nk.eq(kv), nf.eq(fv)]
            r, qv, hv, tv, kv, fv = nr, nq, nh, nt, nk, nf
        # stage 6: m = min(K, q), then m x theta by shifts and adds, registered
        count_c = Signal(3)
        m.d.comb += count_c.eq(Mux(qv > kv, kv, qv))
        h, count = Signal(signed(V)), Signal(3)
        m_theta = Signal(unsigned(V + 3))
        flags2 = Signal(3)
        m.d.sync += [h.eq(hv), count.eq(count_c), flags2.eq(fv),
                     m_theta.eq(Mux(count_c[0], tv, 0) + Mux(count_c[1], tv << 1, 0)
                                + Mux(count_c[2], tv << 2, 0))]
        # output (combinational): the spike and the reset
        bipolar, reset_zero, readout = flags2[0], flags2[1], flags2[2]
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
