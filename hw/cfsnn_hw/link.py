"""The host link: framed commands (cfsnn.protocol) from a byte stream onto the core's bus.

A request is received into a buffer while its CRC is computed; only a request whose CRC
checks is executed, so a corrupted frame can never write anything. The executor is a bus
master that writes, reads, runs the core and collects results into a reply buffer; the
transmitter sends the reply frame with its CRC. The link is half duplex: bytes that arrive
while a request executes or its reply is sent are dropped (and counted).
"""

from amaranth import Array, Cat, Const, Module, Mux, Signal
from amaranth.lib import wiring
from amaranth.lib.memory import Memory
from amaranth.lib.wiring import In, Out

from cfsnn import memmap as MM
from cfsnn import protocol as PR

from .core import BusSignature

WORDS = PR.MAX_PAYLOAD // 4


def crc_step(m, crc, byte, name):
    """CRC-16/CCITT-FALSE of one more byte: returns a signal (combinational), one named
    signal per bit step so the logic stays linear in size."""
    c = Signal(16, name=f"{name}_0")
    m.d.comb += c.eq(crc ^ (byte << 8))
    for i in range(8):
        n = Signal(16, name=f"{name}_{i + 1}")
        m.d.comb += n.eq(Mux(c[15], (c << 1)[:16] ^ 0x1021, (c << 1)[:16]))
        c = n
    return c


def region_limits(params: MM.BuildParams) -> dict:
    """Words each region holds (the link refuses accesses past them)."""
    P = params.lanes
    return {MM.Region.REG: 0x100, MM.Region.WEIGHT: params.weight_words * P,
            MM.Region.THETA: params.neuron_words * P, MM.Region.BIAS: params.neuron_words * P,
            MM.Region.MEMBRANE: params.neuron_words * P, MM.Region.INPUT: params.input_depth,
            MM.Region.SPIKE: params.t_max * params.neuron_words * P}


class LinkBridge(wiring.Component):
    """Protocol engine between a byte stream and the core's bus.

    Parameters
    ----------
    params : cfsnn.memmap.BuildParams of the core behind the bus
    clocks_per_bit : UART bit time in clock cycles (reported by INFO; sets the byte timeout)

    Attributes
    ----------
    rx_data, rx_valid : In, received bytes (one-cycle strobes)
    tx_data, tx_valid : Out, bytes to send; tx_ready : In, the transmitter takes the byte
    bus : Out(BusSignature), bus master to the core
    """

    def __init__(self, *, params: MM.BuildParams, clocks_per_bit: int):
        if not isinstance(params, MM.BuildParams):
            raise TypeError(f"params must be a cfsnn.memmap.BuildParams, not {params!r}")
        if isinstance(clocks_per_bit, bool) or not isinstance(clocks_per_bit, int) \
                or clocks_per_bit < 4:
            raise ValueError(f"clocks_per_bit must be an int >= 4, not {clocks_per_bit!r}")
        self.params, self.clocks_per_bit = params, clocks_per_bit
        super().__init__({"rx_data": In(8), "rx_valid": In(1), "tx_data": Out(8),
                          "tx_valid": Out(1), "tx_ready": In(1), "bus": Out(BusSignature)})

    def elaborate(self, platform):
        m = Module()
        p = self.params
        P = p.lanes
        bus = self.bus
        rxbuf = Memory(shape=32, depth=WORDS, init=[])
        txbuf = Memory(shape=32, depth=WORDS, init=[])
        m.submodules.rxbuf, m.submodules.txbuf = rxbuf, txbuf
        rx_w = rxbuf.write_port(granularity=8)
        rx_r = rxbuf.read_port()
        tx_w = txbuf.write_port()
        tx_r = txbuf.read_port()

        seq, op, status = Signal(8), Signal(8), Signal(8)
        length = Signal(16)
        idx = Signal(16)
        crc = Signal(16)
        crc_lo = Signal(8)
        k = Signal(16)
        k1 = Signal(16, init=1)      # k + 1, kept in a register: it ends loops in compares
        idx1 = Signal(16, init=1)    # idx + 1, likewise
        base = Signal(32)
        count = Signal(16)
        tx_len = Signal(16)
        n_layers = Signal(16)
        n_out = Signal(16)
        nbase = Signal(32)
        stats = Array(Signal(32, name=n) for n in PR.STATS_WORDS)
        frames_ok, crc_errors, bad_frames, timeouts, dropped = stats
        timeout = PR.BYTE_TIMEOUT_BITS * self.clocks_per_bit
        idle = Signal(range(timeout + 1))
        byte = self.rx_data

        limits = region_limits(p)
        rx_crc = crc_step(m, crc, byte, "rx_crc")

        def in_bounds(addr, n, writable):
            """addr .. addr + n - 1 lies inside one region (and it is writable). One
            comparator against the region's limit (a constant picked by the region) serves
            WRITE and READ (``writable`` is a signal)."""
            region = addr[MM.REGION_SHIFT:]
            off = addr[:MM.REGION_SHIFT]
            end = Signal(MM.REGION_SHIFT + 1, name="bounds_end")
            lim = Signal(MM.REGION_SHIFT + 1, name="bounds_limit")
            m.d.comb += end.eq(off + n)
            with m.Switch(region):
                for rid, l in limits.items():
                    with m.Case(rid):
                        if rid == MM.Region.SPIKE:
                            m.d.comb += lim.eq(Mux(writable, 0, l))
                        else:
                            m.d.comb += lim.eq(l)
            # n >= 1 here, so a limit of 0 (an unknown or read-only region) refuses
            return (end <= lim) & (addr[MM.ADDR_BITS:] == 0)

        def reply(m, st, nbytes=0):
            m.d.sync += [status.eq(st.value), tx_len.eq(nbytes)]
            m.next = "TX_SYNC"

        def bus_read(addr):
            return [bus.addr.eq(addr), bus.r_en.eq(1)]

        def bus_write(addr, data):
            return [bus.addr.eq(addr), bus.w_data.eq(data), bus.w_en.eq(1)]

        def store(widx, data):
            return [tx_w.addr.eq(widx), tx_w.data.eq(data), tx_w.en.eq(1)]

        # registered: the bounds check (an adder, a compare, the region's limit) feeds the
        # next-state logic one cycle after base and count settle (the *_BOUNDS states)
        bounds_ok = Signal()
        m.d.sync += bounds_ok.eq(in_bounds(base, count, op == PR.Op.WRITE))
        rx_states = ("SEQ", "OP", "LEN0", "LEN1", "PAY", "CRC0", "CRC1")
        STATUS_ADDR = MM.reg_addr(MM.Reg.STATUS)
        max_logits = PR.max_run_logits(p.max_layers)

        with m.FSM(name="link") as fsm:
            # ---------------------------------------------------------------- receive
            with m.State("HUNT"):
                with m.If(self.rx_valid):
                    with m.If(byte == PR.REQ_SYNC):
                        m.d.sync += [crc.eq(0xFFFF), idle.eq(0)]
                        m.next = "SEQ"
                    with m.Else():
                        m.d.sync += dropped.eq(dropped + 1)
            def give_up():
                # a frame that stops arriving is abandoned after the byte timeout
                with m.If(~self.rx_valid & (idle == timeout)):
                    m.d.sync += timeouts.eq(timeouts + 1)
                    m.next = "HUNT"

            for name, nxt, action in (("SEQ", "OP", seq.eq(byte)), ("OP", "LEN0", op.eq(byte)),
                                      ("LEN0", "LEN1", length[:8].eq(byte))):
                with m.State(name):
                    give_up()
                    with m.If(self.rx_valid):
                        m.d.sync += [action, crc.eq(rx_crc)]
                        m.next = nxt
            with m.State("LEN1"):
                give_up()
                new_len = Cat(length[:8], byte)
                with m.If(self.rx_valid):
                    m.d.sync += [length[8:].eq(byte), crc.eq(rx_crc), idx.eq(0), idx1.eq(1)]
                    with m.If(new_len > PR.MAX_PAYLOAD):
                        m.d.sync += bad_frames.eq(bad_frames + 1)
                        m.next = "HUNT"
                    with m.Elif(new_len == 0):
                        m.next = "CRC0"
                    with m.Else():
                        m.next = "PAY"
            with m.State("PAY"):
                give_up()
                m.d.comb += [rx_w.addr.eq(idx >> 2), rx_w.data.eq(Cat(byte, byte, byte, byte)),
                             rx_w.en.eq(Mux(self.rx_valid, 1 << idx[:2], 0))]
                with m.If(self.rx_valid):
                    m.d.sync += [crc.eq(rx_crc), idx.eq(idx1), idx1.eq(idx1 + 1)]
                    with m.If(idx1 == length):
                        m.next = "CRC0"
            with m.State("CRC0"):
                give_up()
                with m.If(self.rx_valid):
                    m.d.sync += crc_lo.eq(byte)
                    m.next = "CRC1"
            with m.State("CRC1"):
                give_up()
                m.d.comb += rx_r.addr.eq(0)
                with m.If(self.rx_valid):
                    with m.If(Cat(crc_lo, byte) == crc):
                        m.d.sync += [frames_ok.eq(frames_ok + 1), k.eq(0), k1.eq(1)]
                        m.next = "EXEC"
                    with m.Else():
                        m.d.sync += crc_errors.eq(crc_errors + 1)
                        reply(m, PR.Status.BAD_CRC)
            # ---------------------------------------------------------------- execute
            with m.State("EXEC"):
                m.d.comb += rx_r.addr.eq(0)
                with m.Switch(op):
                    with m.Case(PR.Op.INFO):
                        with m.If(length != 0):
                            reply(m, PR.Status.BAD_LENGTH)
                        with m.Else():
                            m.next = "INFO"
                    with m.Case(PR.Op.WRITE):
                        with m.If((length < 8) | (length[:2] != 0)):
                            reply(m, PR.Status.BAD_LENGTH)
                        with m.Else():
                            m.d.sync += count.eq((length - 4) >> 2)
                            m.next = "WR_ADDR"
                    with m.Case(PR.Op.READ):
                        with m.If(length != 6):
                            reply(m, PR.Status.BAD_LENGTH)
                        with m.Else():
                            m.next = "RD_ADDR"
                    with m.Case(PR.Op.RUN):
                        with m.If(length > p.input_depth):
                            reply(m, PR.Status.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += bus_read(STATUS_ADDR)
                            m.next = "RUN_BUSY"
                    with m.Case(PR.Op.RESET):
                        with m.If(length != 0):
                            reply(m, PR.Status.BAD_LENGTH)
                        with m.Else():
                            m.d.comb += bus_write(MM.reg_addr(MM.Reg.CTRL), MM.Ctrl.CLEAR)
                            m.d.sync += [s.eq(0) for s in stats]
                            reply(m, PR.Status.OK)
                    with m.Case(PR.Op.STATS):
                        with m.If(length != 0):
                            reply(m, PR.Status.BAD_LENGTH)
                        with m.Else():
                            m.next = "STATS"
                    with m.Default():
                        reply(m, PR.Status.BAD_OPCODE)
            # INFO: the core's build registers, then the link's own words
            n_core_info = MM.N_INFO
            link_info = [PR.MAX_PAYLOAD, PR.PROTOCOL_VERSION, self.clocks_per_bit]
            with m.State("INFO"):
                m.d.comb += bus_read(MM.reg_addr(0) + k)
                m.next = "INFO_STORE"
            with m.State("INFO_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.comb += store(k, bus.r_data)
                    m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                    with m.If(k1 == n_core_info):
                        m.next = "INFO_LINK"
                    with m.Else():
                        m.next = "INFO"
            with m.State("INFO_LINK"):
                j = k - n_core_info
                m.d.comb += store(k, Array(Const(v, 32) for v in link_info)[j])
                m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                with m.If(j + 1 == len(link_info)):
                    reply(m, PR.Status.OK, 4 * (n_core_info + len(link_info)))
            with m.State("STATS"):
                m.d.comb += store(k, stats[k])
                m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                with m.If(k1 == len(PR.STATS_WORDS)):
                    reply(m, PR.Status.OK, 4 * len(PR.STATS_WORDS))
            # WRITE addr, words...
            with m.State("WR_ADDR"):
                m.d.sync += base.eq(rx_r.data)
                m.next = "WR_BOUNDS"
            with m.State("WR_BOUNDS"):
                m.next = "WR_CHECK"
            with m.State("WR_CHECK"):      # from registers: the bounds check is a long path
                with m.If(~bounds_ok):
                    reply(m, PR.Status.BAD_ADDRESS)
                with m.Else():
                    m.d.comb += bus_read(STATUS_ADDR)
                    m.next = "WR_BUSY"
            with m.State("WR_BUSY"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.comb += rx_r.addr.eq(1)
                    with m.If(bus.r_data & MM.Status.BUSY):
                        reply(m, PR.Status.BUSY)
                    with m.Else():
                        m.next = "WR_DO"
            with m.State("WR_FETCH"):
                m.d.comb += rx_r.addr.eq(k1)
                m.next = "WR_DO"
            with m.State("WR_DO"):
                m.d.comb += bus_write(base + k, rx_r.data)
                m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                with m.If(k1 == count):
                    reply(m, PR.Status.OK)
                with m.Else():
                    m.next = "WR_FETCH"
            # READ addr, count
            with m.State("RD_ADDR"):
                m.d.comb += rx_r.addr.eq(1)
                m.d.sync += base.eq(rx_r.data)
                m.next = "RD_COUNT"
            with m.State("RD_COUNT"):
                m.d.sync += count.eq(rx_r.data[:16])
                m.next = "RD_BOUNDS"
            with m.State("RD_BOUNDS"):
                m.next = "RD_CHECK"
            with m.State("RD_CHECK"):
                with m.If((count == 0) | (count > PR.MAX_READ_WORDS)):
                    reply(m, PR.Status.BAD_LENGTH)
                with m.Elif(~bounds_ok):
                    reply(m, PR.Status.BAD_ADDRESS)
                with m.Else():
                    m.d.comb += bus_read(STATUS_ADDR)
                    m.next = "RD_BUSY"
            with m.State("RD_BUSY"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    with m.If((bus.r_data & MM.Status.BUSY) & (base[MM.REGION_SHIFT:] != 0)):
                        reply(m, PR.Status.BUSY)
                    with m.Else():
                        m.next = "RD_ISSUE"
            with m.State("RD_ISSUE"):
                m.d.comb += bus_read(base + k)
                m.next = "RD_STORE"
            with m.State("RD_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.comb += store(k, bus.r_data)
                    m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                    with m.If(k1 == count):
                        reply(m, PR.Status.OK, count << 2)
                    with m.Else():
                        m.next = "RD_ISSUE"
            # RUN codes...: write the inputs, start, wait, collect the results
            with m.State("RUN_BUSY"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    with m.If(bus.r_data & MM.Status.BUSY):
                        reply(m, PR.Status.BUSY)
                    with m.Elif(length == 0):
                        m.next = "RUN_START"
                    with m.Else():
                        m.next = "RUN_FETCH"
            with m.State("RUN_FETCH"):
                m.d.comb += rx_r.addr.eq(k >> 2)
                m.next = "RUN_DO"
            with m.State("RUN_DO"):
                code = Array(rx_r.data[8 * i:8 * i + 8] for i in range(4))[k[:2]]
                m.d.comb += bus_write(MM.mem_addr(MM.Region.INPUT, 0) + k, code)
                m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                with m.If(k1 == length):
                    m.next = "RUN_START"
                with m.Else():
                    m.next = "RUN_FETCH"
            with m.State("RUN_START"):
                m.d.comb += bus_write(MM.reg_addr(MM.Reg.CTRL), MM.Ctrl.START | MM.Ctrl.CLEAR)
                m.next = "RUN_POLL"
            with m.State("RUN_POLL"):
                m.d.comb += bus_read(STATUS_ADDR)
                m.next = "RUN_WAIT"
            with m.State("RUN_WAIT"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    with m.If(bus.r_data & MM.Status.BUSY):
                        m.next = "RUN_POLL"
                    with m.Elif(bus.r_data & MM.Status.ERROR):
                        m.d.comb += store(0, bus.r_data)
                        reply(m, PR.Status.CORE_ERROR, 4)
                    with m.Else():
                        m.d.sync += [k.eq(0), k1.eq(1)]
                        m.next = "RES_ISSUE"
            fixed = [MM.Reg.PREDICTION, MM.Reg.CYCLES, MM.Reg.EVENTS, MM.Reg.SYNOPS]
            with m.State("RES_ISSUE"):
                m.d.comb += bus_read(Array(Const(MM.reg_addr(r), 32) for r in fixed)[k])
                m.next = "RES_STORE"
            with m.State("RES_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.comb += store(k, bus.r_data)
                    m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                    with m.If(k1 == len(fixed)):
                        m.next = "NL_ISSUE"
                    with m.Else():
                        m.next = "RES_ISSUE"
            with m.State("NL_ISSUE"):
                m.d.comb += bus_read(MM.reg_addr(MM.Reg.N_LAYERS))
                m.next = "NL_STORE"
            with m.State("NL_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.sync += n_layers.eq(bus.r_data)
                    m.next = "NO_ISSUE"
            last = (n_layers - 1)[:8]
            with m.State("NO_ISSUE"):
                m.d.comb += bus_read(MM.reg_addr(MM.Reg.LAYER) + last * MM.LAYER_STRIDE
                                     + MM.LayerField.N_OUT)
                m.next = "NO_STORE"
            with m.State("NO_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    # registered first: memory read, bus mux and compare in one cycle were the
                    # longest path of the ECP5 build
                    m.d.sync += n_out.eq(bus.r_data)
                    m.next = "NO_CLAMP"
            with m.State("NO_CLAMP"):
                n_rep = Mux(n_out > max_logits, max_logits, n_out)
                m.d.sync += n_out.eq(n_rep)
                m.d.comb += store(4, n_rep)
                m.next = "NB_ISSUE"
            with m.State("NB_ISSUE"):
                m.d.comb += bus_read(MM.reg_addr(MM.Reg.LAYER) + last * MM.LAYER_STRIDE
                                     + MM.LayerField.NEURON_BASE)
                m.next = "NB_STORE"
            with m.State("NB_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.sync += [nbase.eq(bus.r_data), k.eq(0), k1.eq(1)]
                    m.next = "LG_ISSUE"
            with m.State("LG_ISSUE"):
                with m.If(k == n_out):
                    m.d.comb += store(5 + n_out, n_layers - 1)
                    m.d.sync += [k.eq(0), k1.eq(1)]
                    m.next = "SP_ISSUE"
                with m.Else():
                    m.d.comb += bus_read(MM.mem_addr(MM.Region.MEMBRANE, 0) + nbase * P + k)
                    m.next = "LG_STORE"
            with m.State("LG_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.comb += store(5 + k, bus.r_data)
                    m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                    m.next = "LG_ISSUE"
            with m.State("SP_ISSUE"):
                with m.If(k1 >= n_layers):
                    reply(m, PR.Status.OK, (6 + n_out + n_layers - 1) << 2)
                with m.Else():
                    m.d.comb += bus_read(MM.reg_addr(MM.Reg.SPIKES) + k)
                    m.next = "SP_STORE"
            with m.State("SP_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.comb += store(6 + n_out + k, bus.r_data)
                    m.d.sync += [k.eq(k1), k1.eq(k1 + 1)]
                    m.next = "SP_ISSUE"
            # ---------------------------------------------------------------- transmit
            tx_byte = Signal(8)
            tx_crc = crc_step(m, crc, tx_byte, "tx_crc")
            m.d.comb += self.tx_data.eq(tx_byte)

            def tx_state(name, value, nxt, update_crc=True, extra=(), comb=()):
                with m.State(name):
                    m.d.comb += [tx_byte.eq(value), self.tx_valid.eq(1), *comb]
                    with m.If(self.tx_ready):
                        if update_crc:
                            m.d.sync += crc.eq(tx_crc)
                        m.d.sync += list(extra)
                        if callable(nxt):
                            nxt()
                        else:
                            m.next = nxt

            with m.State("TX_SYNC"):
                m.d.comb += [tx_byte.eq(PR.REP_SYNC), self.tx_valid.eq(1)]
                with m.If(self.tx_ready):
                    m.d.sync += [crc.eq(0xFFFF), idx.eq(0), idx1.eq(1)]
                    m.next = "TX_SEQ"
            tx_state("TX_SEQ", seq, "TX_STATUS")
            tx_state("TX_STATUS", status, "TX_LEN0")
            tx_state("TX_LEN0", tx_len[:8], "TX_LEN1")

            def after_len():
                with m.If(tx_len == 0):
                    m.next = "TX_CRC0"
                with m.Else():
                    m.next = "TX_WAIT"
            tx_state("TX_LEN1", tx_len[8:], after_len)
            with m.State("TX_WAIT"):
                m.d.comb += tx_r.addr.eq(idx >> 2)
                m.next = "TX_PAY"
            pay = Array(tx_r.data[8 * i:8 * i + 8] for i in range(4))[idx[:2]]

            def after_pay():
                with m.If(idx1 == tx_len):
                    m.next = "TX_CRC0"
                with m.Else():
                    m.next = "TX_WAIT"
            tx_state("TX_PAY", pay, after_pay, extra=[idx.eq(idx1), idx1.eq(idx1 + 1)], comb=[tx_r.addr.eq(idx >> 2)])
            tx_state("TX_CRC0", crc[:8], "TX_CRC1", update_crc=False)
            tx_state("TX_CRC1", crc[8:], "HUNT", update_crc=False)

        # bytes that arrive while a request executes or a reply is sent are dropped
        in_rx = Const(0)
        for s_ in rx_states:
            in_rx = in_rx | fsm.ongoing(s_)
        with m.If(self.rx_valid & ~in_rx & ~fsm.ongoing("HUNT")):
            m.d.sync += dropped.eq(dropped + 1)
        with m.If(self.rx_valid | ~in_rx):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != timeout):
            m.d.sync += idle.eq(idle + 1)
        return m
