"""Board tops: PLL, reset button, the SoC (UART <-> link <-> core) on the FTDI UART pins, LEDs.

LEDs: heartbeat (about 1 Hz, proves the PLL clock runs), busy, done, error. The iCEBreaker
has two LEDs on the main board (green: heartbeat, red: error) and five on its break-off PMOD
(heartbeat, busy, done, error); the ULX3S uses LEDs 0-3 for the same four."""

from amaranth import Elaboratable, Module, Signal
from amaranth.lib import io

from ..top import CFSoC
from .pll import PLLDomain


class BoardTop(Elaboratable):
    """The SoC on a board.

    board : a :class:`cfsnn_hw.boards.build.Board` (platform, family, clock, pins)
    params : cfsnn.memmap.BuildParams of the core
    f_mhz : target clock (the PLL's output)
    baud : UART rate; clocks_per_bit = round(PLL output / baud)
    """

    def __init__(self, board, params, f_mhz: float, baud: int):
        self.board, self.params, self.f_mhz, self.baud = board, params, f_mhz, baud
        pll = PLLDomain(board.family, board.clock, f_mhz)
        self.f_actual = pll.params(board.clock_mhz)["f_out"]
        self.clocks_per_bit = max(4, round(self.f_actual * 1e6 / baud))
        self.soc = CFSoC(params=params, clocks_per_bit=self.clocks_per_bit,
                         core_class=board.core_class)

    def elaborate(self, platform):
        m = Module()
        b = self.board
        m.submodules.button = btn = io.Buffer("i", platform.request(b.reset_button, 0, dir="-"))
        m.submodules.crg = PLLDomain(b.family, b.clock, self.f_mhz, rst=btn.i)
        m.submodules.soc = soc = self.soc
        uart = platform.request("uart", 0, dir="-")
        m.submodules.uart_rx = rx = io.FFBuffer("i", uart.rx)
        m.submodules.uart_tx = tx = io.FFBuffer("o", uart.tx)
        m.d.comb += [soc.uart_rx.eq(rx.i), tx.o.eq(soc.uart_tx)]
        if b.name == "ulx3s":
            m.submodules.uart_en = en = io.Buffer("o", platform.request("uart_tx_enable", 0,
                                                                         dir="-"))
            m.d.comb += en.o.eq(1)
        # a free-running counter's top bit: 0.9 to 1.8 Hz between 15 and 60 MHz
        bits = max(1, int(self.f_actual * 1e6).bit_length() - 1)
        beat = Signal(bits)
        m.d.sync += beat.eq(beat + 1)
        heartbeat = beat[-1]
        signals = {"heartbeat": heartbeat, "busy": soc.busy, "done": soc.done,
                   "error": soc.error}
        for i, (res, num, what) in enumerate(b.leds):
            m.submodules[f"led{i}"] = led = io.Buffer("o", platform.request(res, num, dir="-"))
            m.d.comb += led.o.eq(signals[what])
        return m
