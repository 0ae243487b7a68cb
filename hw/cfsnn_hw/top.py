"""The core with its host link: UART pins in and out, status pins (no board specifics)."""

from amaranth import Module
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from cfsnn import memmap as MM

from .core import CFCore
from .link import LinkBridge
from .uart import UARTRx, UARTTx


class CFSoC(wiring.Component):
    """UART 8N1 <-> framed protocol <-> inference core.

    Parameters
    ----------
    params : cfsnn.memmap.BuildParams of the core
    clocks_per_bit : UART bit time in clock cycles (baud = clock / clocks_per_bit)
    core_class : the core (``CFCore``, or a board's subclass that maps its memories)

    Attributes
    ----------
    uart_rx : In(1), from the host (idle high)
    uart_tx : Out(1), to the host (idle high)
    busy, done, error : Out(1), the core's status (for LEDs)
    """

    def __init__(self, *, params: MM.BuildParams = MM.BuildParams(), clocks_per_bit: int = 4,
                 core_class=CFCore):
        self.params, self.clocks_per_bit = params, clocks_per_bit
        self.core = core_class(params=params)
        self.link = LinkBridge(params=params, clocks_per_bit=clocks_per_bit)
        self.rx = UARTRx(clocks_per_bit=clocks_per_bit)
        self.tx = UARTTx(clocks_per_bit=clocks_per_bit)
        super().__init__({"uart_rx": In(1, init=1), "uart_tx": Out(1, init=1),
                          "busy": Out(1), "done": Out(1), "error": Out(1)})

    def elaborate(self, platform):
        m = Module()
        m.submodules.core, m.submodules.link = self.core, self.link
        m.submodules.uart_rx, m.submodules.uart_tx = self.rx, self.tx
        wiring.connect(m, self.link.bus, self.core.bus)
        m.d.comb += [
            self.rx.rx.eq(self.uart_rx), self.uart_tx.eq(self.tx.tx),
            self.link.rx_data.eq(self.rx.data), self.link.rx_valid.eq(self.rx.valid),
            self.tx.data.eq(self.link.tx_data), self.tx.valid.eq(self.link.tx_valid),
            self.link.tx_ready.eq(self.tx.ready),
            self.busy.eq(self.core.busy), self.done.eq(self.core.done),
            self.error.eq(self.core.error),
        ]
        return m
