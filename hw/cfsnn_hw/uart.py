"""UART 8N1 receiver and transmitter; the baud rate is clk / clocks_per_bit."""

from amaranth import Module, Signal
from amaranth.lib import wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out


def _check_divisor(clocks_per_bit):
    if isinstance(clocks_per_bit, bool) or not isinstance(clocks_per_bit, int):
        raise TypeError(f"clocks_per_bit must be an int, not {clocks_per_bit!r}")
    if clocks_per_bit < 4:
        raise ValueError(f"clocks_per_bit must be >= 4, not {clocks_per_bit}")


class UARTRx(wiring.Component):
    """Receiver: samples the middle of each bit; a frame without its stop bit is dropped.

    Attributes
    ----------
    rx : In(1), the serial line (idle high)
    data : Out(8), the last byte received
    valid : Out(1), high for one cycle when ``data`` holds a new byte
    """

    def __init__(self, *, clocks_per_bit: int):
        _check_divisor(clocks_per_bit)
        self.clocks_per_bit = clocks_per_bit
        super().__init__({"rx": In(1, init=1), "data": Out(8), "valid": Out(1)})

    def elaborate(self, platform):
        m = Module()
        D = self.clocks_per_bit
        rx = Signal(init=1)
        m.submodules.sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(D + 1))
        bit = Signal(range(9))
        shreg = Signal(8)
        m.d.sync += self.valid.eq(0)
        with m.FSM():
            with m.State("IDLE"):
                with m.If(~rx):
                    m.d.sync += timer.eq(D // 2 - 1)
                    m.next = "START"
            with m.State("START"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(~rx):
                        m.d.sync += [timer.eq(D - 1), bit.eq(0)]
                        m.next = "DATA"
                    with m.Else():
                        m.next = "IDLE"
            with m.State("DATA"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    m.d.sync += [shreg.eq((shreg >> 1) | (rx << 7)), timer.eq(D - 1),
                                 bit.eq(bit + 1)]
                    with m.If(bit == 7):
                        m.next = "STOP"
            with m.State("STOP"):
                m.d.sync += timer.eq(timer - 1)
                with m.If(timer == 0):
                    with m.If(rx):
                        m.d.sync += [self.data.eq(shreg), self.valid.eq(1)]
                    m.next = "IDLE"
        return m


class UARTTx(wiring.Component):
    """Transmitter.

    Attributes
    ----------
    data : In(8), the byte to send, taken when ``valid`` and ``ready``
    valid : In(1)
    ready : Out(1), the transmitter can take a byte
    tx : Out(1), the serial line (idle high)
    """

    def __init__(self, *, clocks_per_bit: int):
        _check_divisor(clocks_per_bit)
        self.clocks_per_bit = clocks_per_bit
        super().__init__({"data": In(8), "valid": In(1), "ready": Out(1),
                          "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        D = self.clocks_per_bit
        timer = Signal(range(D))
        bits = Signal(range(11))
        shreg = Signal(10, init=0x3FF)
        m.d.comb += [self.ready.eq(bits == 0), self.tx.eq(shreg[0])]
        with m.If(bits == 0):
            with m.If(self.valid):
                # start bit, 8 data bits LSB first, stop bit
                m.d.sync += [shreg.eq((self.data << 1) | (1 << 9)), bits.eq(10),
                             timer.eq(D - 1)]
        with m.Else():
            m.d.sync += timer.eq(timer - 1)
            with m.If(timer == 0):
                m.d.sync += [shreg.eq((shreg >> 1) | (1 << 9)), bits.eq(bits - 1),
                             timer.eq(D - 1)]
        return m
