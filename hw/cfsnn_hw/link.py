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

        # Datapath registers, each as narrow as the protocol allows. Every bus access goes to
        # ``ptr`` (loaded or incremented the cycle before), every reply word to txbuf[widx]
        # (incremented per word, so the reply length is widx x 4): no adders or wide
        # multiplexers in front of the bus or the reply buffer.
        LEN_BITS = PR.MAX_PAYLOAD.bit_length()
        seq, op, status = Signal(8, name="seq"), Signal(8, name="op"), Signal(8, name="status")
        length = Signal(LEN_BITS)
        idx = Signal(LEN_BITS)                # byte or word index of the running loop
        idx1 = Signal(LEN_BITS, init=1)       # idx + 1, kept in a register: loops end in compares
        count = Signal(range(WORDS + 1))      # words to write or read
        bad_count = Signal()
        widx = Signal(range(WORDS + 1))       # reply words stored so far
        ptr = Signal(MM.ADDR_BITS)            # the bus address
        ptr_hi = Signal()                     # the requested address had bits above ADDR_BITS
        mem_read = Signal()                   # a READ of a memory (not of the registers)
        last = Signal(8)                      # n_layers - 1
        n_out = Signal(16)
        crc, crc_lo = Signal(16, name="crc"), Signal(8, name="crc_lo")
        timeout = PR.BYTE_TIMEOUT_BITS * self.clocks_per_bit
        idle = Signal(range(timeout + 1))
        byte = self.rx_data
        tx_len = Cat(Const(0, 2), widx)

        # Statistics: events never coincide (a byte arrives at most every few cycles, and
        # each is counted once), so the state machine raises one event code, registered
        # before it reaches the counters' enables. STATS waits while an increment is pending.
        stats = [Signal(32, name=n) for n in PR.STATS_WORDS]
        FRAMES_OK, CRC_ERRORS, BAD_FRAMES, TIMEOUTS, DROPPED = range(len(stats))
        ev_now, ev_code = Signal(), Signal(3)
        ev_valid, ev_reg = Signal(), Signal(3)
        m.d.sync += [ev_valid.eq(ev_now), ev_reg.eq(ev_code)]
        with m.If(ev_valid):
            with m.Switch(ev_reg):
                for i, s_ in enumerate(stats):
                    with m.Case(i):
                        m.d.sync += s_.eq(s_ + 1)
        stat_val = Array(stats)[idx[:3]]

        def event(i):
            m.d.comb += [ev_now.eq(1), ev_code.eq(i)]

        # CRC, one byte behind: the byte (received or sent) is registered with a flag and
        # folded in the next cycle, so the state decode and the byte multiplexer are not in
        # front of the CRC's XOR network. A received frame's CRC1 byte comes at least two
        # cycles after its last covered byte; the transmitter waits a cycle (TX_CRCW).
        crc_byte, crc_go = Signal(8), Signal()
        crc_in, crc_take = Signal(8), Signal()
        m.d.comb += crc_in.eq(byte)
        m.d.sync += [crc_byte.eq(crc_in), crc_go.eq(crc_take)]
        with m.If(crc_go):
            m.d.sync += crc.eq(crc_step(m, crc, crc_byte, "crc"))

        def fold(value=None):
            m.d.comb += crc_take.eq(1)
            if value is not None:
                m.d.comb += crc_in.eq(value)

        limits = region_limits(p)

        def in_bounds(addr, hi, n, writable):
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
            return (end <= lim) & ~hi

        def reply(m, st):
            m.d.sync += status.eq(st.value)
            m.next = "TX_SYNC"

        def bus_read():
            m.d.comb += bus.r_en.eq(1)

        def bus_write(data=None):
            m.d.comb += bus.w_en.eq(1)
            if data is not None:
                m.d.comb += bus.w_data.eq(data)

        tx_data = Signal(32)

        def store(data=None):
            m.d.comb += tx_w.en.eq(1)
            if data is not None:
                m.d.comb += tx_data.eq(data)
            m.d.sync += widx.eq(widx + 1)

        def step(inc_ptr=True):
            m.d.sync += [idx.eq(idx1), idx1.eq(idx1 + 1)]
            if inc_ptr:
                m.d.sync += ptr.eq(ptr + 1)

        def restart():
            m.d.sync += [idx.eq(0), idx1.eq(1)]

        m.d.comb += [bus.addr.eq(ptr), bus.w_data.eq(rx_r.data), tx_w.addr.eq(widx),
                     tx_w.data.eq(tx_data), tx_data.eq(bus.r_data)]

        # registered: the bounds check (an adder, a compare, the region's limit) feeds the
        # next-state logic one cycle after ptr and count settle (the *_BOUNDS states)
        bounds_ok = Signal()
        m.d.sync += bounds_ok.eq(in_bounds(ptr, ptr_hi, count, op == PR.Op.WRITE))
        rx_states = ("SEQ", "OP", "LEN0", "LEN1", "PAY", "CRC0", "CRC1")
        STATUS_ADDR = MM.reg_addr(MM.Reg.STATUS)
        CTRL_ADDR = MM.reg_addr(MM.Reg.CTRL)
        max_logits = PR.max_run_logits(p.max_layers)
        word = rx_r.data

        def load_ptr():
            """ptr <- the address word of a WRITE or READ (rx word 0, read the cycle before)"""
            m.d.sync += [ptr.eq(word[:MM.ADDR_BITS]), ptr_hi.eq(word[MM.ADDR_BITS:] != 0)]

        # the opcode decode and the length checks, registered (op and length are settled from
        # CRC0 on; EXEC comes later): EXEC decides from flags
        ops = {o: Signal(name=f"op_{o.name.lower()}") for o in PR.Op}
        m.d.sync += [ops[o].eq(op == o) for o in PR.Op]
        len_zero, run_too_long, wr_len_bad, rd_len_bad = (
            Signal(name="len_zero"), Signal(name="run_too_long"), Signal(name="wr_len_bad"),
            Signal(name="rd_len_bad"))
        m.d.sync += [len_zero.eq(length == 0), run_too_long.eq(length > p.input_depth),
                     wr_len_bad.eq((length < 8) | (length[:2] != 0)), rd_len_bad.eq(length != 6)]

        with m.FSM(name="link") as fsm:
            # ---------------------------------------------------------------- receive
            with m.State("HUNT"):
                with m.If(self.rx_valid):
                    with m.If(byte == PR.REQ_SYNC):
                        m.d.sync += [crc.eq(0xFFFF), widx.eq(0)]
                        m.next = "SEQ"
                    with m.Else():
                        event(DROPPED)

            def give_up():
                # a frame that stops arriving is abandoned after the byte timeout
                with m.If(~self.rx_valid & (idle == timeout)):
                    event(TIMEOUTS)
                    m.next = "HUNT"

            for name, nxt, action in (("SEQ", "OP", seq.eq(byte)), ("OP", "LEN0", op.eq(byte)),
                                      ("LEN0", "LEN1", length[:8].eq(byte))):
                with m.State(name):
                    give_up()
                    with m.If(self.rx_valid):
                        m.d.sync += action
                        fold()
                        m.next = nxt
            with m.State("LEN1"):
                give_up()
                with m.If(self.rx_valid):
                    fold()
                    m.d.sync += length[8:].eq(byte)
                    restart()
                    # the length is 16 bits on the wire
                    hi, lo = PR.MAX_PAYLOAD >> 8, PR.MAX_PAYLOAD & 0xFF
                    with m.If((byte > hi) | ((byte == hi) & (length[:8] > lo))):
                        event(BAD_FRAMES)
                        m.next = "HUNT"
                    with m.Elif(Cat(length[:8], byte) == 0):
                        m.next = "CRC0"
                    with m.Else():
                        m.next = "PAY"
            with m.State("PAY"):
                give_up()
                m.d.comb += [rx_w.addr.eq(idx >> 2), rx_w.data.eq(Cat(byte, byte, byte, byte)),
                             rx_w.en.eq(Mux(self.rx_valid, 1 << idx[:2], 0))]
                with m.If(self.rx_valid):
                    fold()
                    step(inc_ptr=False)
                    with m.If(idx1 == length):
                        m.next = "CRC0"
            with m.State("CRC0"):
                give_up()
                with m.If(self.rx_valid):
                    m.d.sync += crc_lo.eq(byte)
                    m.next = "CRC1"
            with m.State("CRC1"):
                give_up()
                with m.If(self.rx_valid):
                    restart()
                    with m.If(Cat(crc_lo, byte) == crc):
                        event(FRAMES_OK)
                        m.next = "EXEC"
                    with m.Else():
                        event(CRC_ERRORS)
                        reply(m, PR.Status.BAD_CRC)
            # ---------------------------------------------------------------- execute
            # (rx_r.addr is 0 unless a state says otherwise: rx word 0 is always at hand)
            with m.State("EXEC"):
                with m.If(ops[PR.Op.INFO]):
                    with m.If(~len_zero):
                        reply(m, PR.Status.BAD_LENGTH)
                    with m.Else():
                        m.d.sync += ptr.eq(MM.reg_addr(0))
                        m.next = "INFO"
                with m.Elif(ops[PR.Op.WRITE]):
                    with m.If(wr_len_bad):
                        reply(m, PR.Status.BAD_LENGTH)
                    with m.Else():
                        m.d.sync += count.eq((length - 4) >> 2)
                        m.next = "WR_ADDR"
                with m.Elif(ops[PR.Op.READ]):
                    with m.If(rd_len_bad):
                        reply(m, PR.Status.BAD_LENGTH)
                    with m.Else():
                        m.next = "RD_ADDR"
                with m.Elif(ops[PR.Op.RUN]):
                    with m.If(run_too_long):
                        reply(m, PR.Status.BAD_LENGTH)
                    with m.Else():
                        m.d.sync += ptr.eq(STATUS_ADDR)
                        m.next = "RUN_STAT"
                with m.Elif(ops[PR.Op.RESET]):
                    with m.If(~len_zero):
                        reply(m, PR.Status.BAD_LENGTH)
                    with m.Else():
                        m.d.sync += ptr.eq(CTRL_ADDR)
                        m.next = "RESET"
                with m.Elif(ops[PR.Op.STATS]):
                    with m.If(~len_zero):
                        reply(m, PR.Status.BAD_LENGTH)
                    with m.Else():
                        m.next = "STATS"
                with m.Else():
                    reply(m, PR.Status.BAD_OPCODE)
            with m.State("RESET"):
                bus_write(MM.Ctrl.CLEAR)
                m.d.sync += [s_.eq(0) for s_ in stats]
                reply(m, PR.Status.OK)
            # INFO: the core's build registers, then the link's own words
            n_core_info = MM.N_INFO
            link_info = [PR.MAX_PAYLOAD, PR.PROTOCOL_VERSION, self.clocks_per_bit]
            with m.State("INFO"):
                bus_read()
                m.next = "INFO_STORE"
            with m.State("INFO_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    store()
                    step()
                    with m.If(idx1 == n_core_info):
                        restart()
                        m.next = "INFO_LINK"
                    with m.Else():
                        m.next = "INFO"
            with m.State("INFO_LINK"):
                store(Array(Const(v, 32) for v in link_info)[idx[:2]])
                step(inc_ptr=False)
                with m.If(idx1 == len(link_info)):
                    reply(m, PR.Status.OK)
            with m.State("STATS"):
                with m.If(~ev_valid):       # an increment is not pending
                    store(stat_val)
                    step(inc_ptr=False)
                    with m.If(idx1 == len(stats)):
                        reply(m, PR.Status.OK)
            # WRITE addr, words...: check the range, then that the core is idle, then write
            with m.State("WR_ADDR"):
                load_ptr()
                m.next = "WR_BOUNDS"
            with m.State("WR_BOUNDS"):
                m.next = "WR_CHECK"
            with m.State("WR_CHECK"):      # from registers: the bounds check is a long path
                with m.If(~bounds_ok):
                    reply(m, PR.Status.BAD_ADDRESS)
                with m.Else():
                    m.d.sync += ptr.eq(STATUS_ADDR)
                    m.next = "WR_STAT"
            with m.State("WR_STAT"):
                bus_read()
                m.next = "WR_BUSY"
            with m.State("WR_BUSY"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    with m.If(bus.r_data & MM.Status.BUSY):
                        reply(m, PR.Status.BUSY)
                    with m.Else():
                        m.next = "WR_BASE"
            with m.State("WR_BASE"):
                load_ptr()
                m.d.comb += rx_r.addr.eq(1)
                m.next = "WR_DO"
            with m.State("WR_FETCH"):
                m.d.comb += rx_r.addr.eq(idx1)      # word 0 is the address
                m.next = "WR_DO"
            with m.State("WR_DO"):
                bus_write()
                step()
                with m.If(idx1 == count):
                    reply(m, PR.Status.OK)
                with m.Else():
                    m.next = "WR_FETCH"
            # READ addr, count
            with m.State("RD_ADDR"):
                load_ptr()
                m.d.comb += rx_r.addr.eq(1)
                m.next = "RD_COUNT"
            with m.State("RD_COUNT"):
                n = word[:16]
                m.d.sync += [count.eq(n), bad_count.eq((n == 0) | (n > PR.MAX_READ_WORDS))]
                m.next = "RD_BOUNDS"
            with m.State("RD_BOUNDS"):
                m.next = "RD_CHECK"
            with m.State("RD_CHECK"):
                with m.If(bad_count):
                    reply(m, PR.Status.BAD_LENGTH)
                with m.Elif(~bounds_ok):
                    reply(m, PR.Status.BAD_ADDRESS)
                with m.Else():
                    m.d.sync += [ptr.eq(STATUS_ADDR), mem_read.eq(ptr[MM.REGION_SHIFT:] != 0)]
                    m.next = "RD_STAT"
            with m.State("RD_STAT"):
                bus_read()
                m.next = "RD_BUSY"
            with m.State("RD_BUSY"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    with m.If((bus.r_data & MM.Status.BUSY) & mem_read):
                        reply(m, PR.Status.BUSY)
                    with m.Else():
                        m.next = "RD_BASE"
            with m.State("RD_BASE"):
                load_ptr()
                m.next = "RD_ISSUE"
            with m.State("RD_ISSUE"):
                bus_read()
                m.next = "RD_STORE"
            with m.State("RD_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    store()
                    step()
                    with m.If(idx1 == count):
                        reply(m, PR.Status.OK)
                    with m.Else():
                        m.next = "RD_ISSUE"
            # RUN codes...: write the inputs, start, wait, collect the results
            with m.State("RUN_STAT"):
                bus_read()
                m.next = "RUN_BUSY"
            with m.State("RUN_BUSY"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    with m.If(bus.r_data & MM.Status.BUSY):
                        reply(m, PR.Status.BUSY)
                    with m.Elif(len_zero):
                        m.d.sync += ptr.eq(CTRL_ADDR)
                        m.next = "RUN_START"
                    with m.Else():
                        m.d.sync += ptr.eq(MM.mem_addr(MM.Region.INPUT, 0))
                        m.next = "RUN_FETCH"
            with m.State("RUN_FETCH"):
                m.d.comb += rx_r.addr.eq(idx >> 2)
                m.next = "RUN_DO"
            with m.State("RUN_DO"):
                bus_write(Array(word[8 * i:8 * i + 8] for i in range(4))[idx[:2]])
                step()
                with m.If(idx1 == length):
                    m.d.sync += ptr.eq(CTRL_ADDR)
                    m.next = "RUN_START"
                with m.Else():
                    m.next = "RUN_FETCH"
            with m.State("RUN_START"):
                bus_write(MM.Ctrl.START | MM.Ctrl.CLEAR)
                m.d.sync += ptr.eq(STATUS_ADDR)
                m.next = "RUN_POLL"
            with m.State("RUN_POLL"):
                bus_read()
                m.next = "RUN_WAIT"
            # the reply: PREDICTION, CYCLES, EVENTS, SYNOPS, the logit count, the logits,
            # the CF layer count, each CF layer's spike count
            fixed = [MM.Reg.PREDICTION, MM.Reg.CYCLES, MM.Reg.EVENTS, MM.Reg.SYNOPS]
            with m.State("RUN_WAIT"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    with m.If(bus.r_data & MM.Status.BUSY):
                        m.next = "RUN_POLL"
                    with m.Elif(bus.r_data & MM.Status.ERROR):
                        store()
                        reply(m, PR.Status.CORE_ERROR)
                    with m.Else():
                        restart()
                        m.d.sync += ptr.eq(MM.reg_addr(fixed[0]))
                        m.next = "RES_ISSUE"
            with m.State("RES_ISSUE"):
                bus_read()
                m.next = "RES_STORE"
            with m.State("RES_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    store()
                    step(inc_ptr=False)
                    with m.If(idx1 == len(fixed)):
                        m.d.sync += ptr.eq(MM.reg_addr(MM.Reg.N_LAYERS))
                        m.next = "NL_ISSUE"
                    with m.Else():
                        m.d.sync += ptr.eq(Array(Const(MM.reg_addr(r), MM.ADDR_BITS)
                                                 for r in fixed)[idx1[:2]])
                        m.next = "RES_ISSUE"
            with m.State("NL_ISSUE"):
                bus_read()
                m.next = "NL_STORE"

            def layer_field(layer, field):
                return MM.reg_addr(MM.Reg.LAYER) + layer * MM.LAYER_STRIDE + field
            with m.State("NL_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    l_ = (bus.r_data[:8] - 1)[:8]
                    m.d.sync += [last.eq(l_),
                                 ptr.eq(layer_field(l_, MM.LayerField.N_OUT))]
                    m.next = "NO_ISSUE"
            with m.State("NO_ISSUE"):
                bus_read()
                m.next = "NO_STORE"
            with m.State("NO_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    # registered first: memory read, bus mux and compare in one cycle were the
                    # longest path of the ECP5 build
                    m.d.sync += n_out.eq(bus.r_data)
                    m.next = "NO_CLAMP"
            with m.State("NO_CLAMP"):
                m.d.sync += [n_out.eq(Mux(n_out > max_logits, max_logits, n_out)),
                             ptr.eq(layer_field(last, MM.LayerField.NEURON_BASE))]
                m.next = "NO_PUT"
            with m.State("NO_PUT"):
                store(n_out)
                m.next = "NB_ISSUE"
            with m.State("NB_ISSUE"):
                bus_read()
                m.next = "NB_STORE"
            with m.State("NB_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    m.d.sync += ptr.eq(MM.mem_addr(MM.Region.MEMBRANE, 0) + bus.r_data * P)
                    restart()
                    m.next = "LG_ISSUE"
            with m.State("LG_ISSUE"):
                with m.If(idx == n_out):
                    m.next = "LG_END"
                with m.Else():
                    bus_read()
                    m.next = "LG_STORE"
            with m.State("LG_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    store()
                    step()
                    m.next = "LG_ISSUE"
            with m.State("LG_END"):
                store(last)
                restart()
                m.d.sync += ptr.eq(MM.reg_addr(MM.Reg.SPIKES))
                m.next = "SP_ISSUE"
            with m.State("SP_ISSUE"):       # one spike count per CF layer: n_layers - 1
                with m.If(idx == last):
                    reply(m, PR.Status.OK)
                with m.Else():
                    bus_read()
                    m.next = "SP_STORE"
            with m.State("SP_STORE"):
                with m.If(bus.r_valid):     # the core answers READ_LATENCY cycles later
                    store()
                    step()
                    m.next = "SP_ISSUE"
            # ---------------------------------------------------------------- transmit
            tx_byte = Signal(8)
            m.d.comb += self.tx_data.eq(tx_byte)

            def tx_state(name, value, nxt, covered=True, comb=()):
                with m.State(name):
                    m.d.comb += [tx_byte.eq(value), self.tx_valid.eq(1), *comb]
                    with m.If(self.tx_ready):
                        if covered:
                            fold(tx_byte)
                        nxt()

            def goto(state):
                return lambda: setattr(m, "next", state)

            def after_sync():
                m.d.sync += crc.eq(0xFFFF)
                restart()
                m.next = "TX_SEQ"
            tx_state("TX_SYNC", PR.REP_SYNC, after_sync, covered=False)
            tx_state("TX_SEQ", seq, goto("TX_STATUS"))
            tx_state("TX_STATUS", status, goto("TX_LEN0"))
            tx_state("TX_LEN0", tx_len[:8], goto("TX_LEN1"))

            def after_len():
                with m.If(widx == 0):
                    m.next = "TX_CRCW"
                with m.Else():
                    m.next = "TX_WAIT"
            tx_state("TX_LEN1", tx_len[8:16], after_len)
            with m.State("TX_WAIT"):
                m.d.comb += tx_r.addr.eq(idx >> 2)
                m.next = "TX_PAY"

            def after_pay():
                step(inc_ptr=False)
                with m.If(idx1 == tx_len):
                    m.next = "TX_CRCW"
                with m.Else():
                    m.next = "TX_WAIT"
            tx_state("TX_PAY", Array(tx_r.data[8 * i:8 * i + 8] for i in range(4))[idx[:2]],
                     after_pay, comb=[tx_r.addr.eq(idx >> 2)])
            with m.State("TX_CRCW"):       # the last byte's CRC step
                m.next = "TX_CRC0"
            tx_state("TX_CRC0", crc[:8], goto("TX_CRC1"), covered=False)
            tx_state("TX_CRC1", crc[8:], goto("HUNT"), covered=False)

        # bytes that arrive while a request executes or a reply is sent are dropped
        in_rx = Const(0)
        for s_ in rx_states:
            in_rx = in_rx | fsm.ongoing(s_)
        with m.If(self.rx_valid & ~in_rx & ~fsm.ongoing("HUNT")):
            event(DROPPED)
        # bit times since the last byte (the byte timeout of the receive states)
        with m.If(self.rx_valid):
            m.d.sync += idle.eq(0)
        with m.Elif(idle != timeout):
            m.d.sync += idle.eq(idle + 1)
        return m
