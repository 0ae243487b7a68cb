"""The host link protocol: framed commands over a byte stream (UART 8N1). Defined once here;
the gateware (hw/cfsnn_hw/link.py), the driver (cfsnn.driver) and the tests import it.

Request frame (host -> device), reply frame (device -> host)::

    request:  REQ_SYNC  seq  opcode  len_lo len_hi  payload[len]  crc_lo crc_hi
    reply:    REP_SYNC  seq  status  len_lo len_hi  payload[len]  crc_lo crc_hi

``seq`` is chosen by the host and echoed in the reply. ``len`` <= MAX_PAYLOAD. The CRC is
CRC-16/CCITT-FALSE (polynomial 0x1021, initial value 0xFFFF, no reflection, no final XOR)
over every byte from ``seq`` to the end of the payload. Words in payloads are 32-bit little
endian. The device acts on a request only after its CRC checked; a request whose CRC fails
gets a BAD_CRC reply (with the sequence number as received) and changes nothing. The
receiver resynchronises by hunting for REQ_SYNC, and drops a half-received frame after
BYTE_TIMEOUT_BITS bit times of silence. docs/PROTOCOL.md describes every command byte by
byte.
"""

from __future__ import annotations

import struct

from amaranth.lib import enum

REQ_SYNC = 0xA5
REP_SYNC = 0x5A
MAX_PAYLOAD = 1024              # bytes, both directions
HEADER_BYTES = 5                # sync, seq, op/status, len (2)
CRC_BYTES = 2
PROTOCOL_VERSION = 1
BYTE_TIMEOUT_BITS = 64          # silence (in bit times) that abandons a half-received frame
MAX_WRITE_WORDS = (MAX_PAYLOAD - 4) // 4
MAX_READ_WORDS = MAX_PAYLOAD // 4


def max_run_logits(max_layers: int) -> int:
    """Logits a RUN reply holds: it also carries 4 counters, the logit count, the CF layer
    count and one spike count per CF layer (at most max_layers - 1)."""
    return MAX_READ_WORDS - 6 - (max_layers - 1)


class Op(enum.Enum, shape=8):
    """Request opcodes."""
    INFO = 0x01       # -> build information (see INFO_WORDS)
    WRITE = 0x02      # addr:u32, words:u32[n] -> (empty); writes addr, addr+1, ...
    READ = 0x03       # addr:u32, count:u16 -> words:u32[count]
    RUN = 0x04        # codes:u8[n] -> run results (see run_reply)
    RESET = 0x05      # -> (empty); clears the core's flags and the link statistics
    STATS = 0x06      # -> link statistics (see STATS_WORDS)


class Status(enum.Enum, shape=8):
    """Reply status codes."""
    OK = 0x00
    BAD_CRC = 0x01
    BAD_OPCODE = 0x02
    BAD_ADDRESS = 0x03
    BUSY = 0x04
    CORE_ERROR = 0x05
    BAD_LENGTH = 0x06


#: INFO reply: the core's build-information registers (cfsnn.memmap.Reg.ID .. K_MAX), then
#: the link's own: MAX_PAYLOAD, PROTOCOL_VERSION, clock cycles per UART bit.
INFO_LINK_WORDS = ("max_payload", "protocol_version", "clocks_per_bit")
#: STATS reply words.
STATS_WORDS = ("frames_ok", "crc_errors", "bad_frames", "timeouts", "bytes_dropped")


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """CRC-16/CCITT-FALSE."""
    for b in data:
        crc ^= b << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else crc << 1
            crc &= 0xFFFF
    return crc


def encode(sync: int, seq: int, code: int, payload: bytes = b"") -> bytes:
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes exceeds MAX_PAYLOAD={MAX_PAYLOAD}")
    body = bytes([seq & 0xFF, int(code) & 0xFF]) + struct.pack("<H", len(payload)) + payload
    return bytes([sync]) + body + struct.pack("<H", crc16(body))


def request(seq: int, op, payload: bytes = b"") -> bytes:
    """A request frame; ``op`` is an Op (or a raw opcode number, for tests)."""
    return encode(REQ_SYNC, seq, int(getattr(op, "value", op)), payload)


def reply(seq: int, status: Status, payload: bytes = b"") -> bytes:
    return encode(REP_SYNC, seq, status.value, payload)


def words(ws) -> bytes:
    return b"".join(struct.pack("<I", int(w) & 0xFFFFFFFF) for w in ws)


def unwords(data: bytes) -> list[int]:
    if len(data) % 4:
        raise ValueError(f"{len(data)} bytes is not a whole number of words")
    return list(struct.unpack(f"<{len(data) // 4}I", data))


def write_payload(addr: int, ws) -> bytes:
    return struct.pack("<I", addr) + words(ws)


def read_payload(addr: int, count: int) -> bytes:
    return struct.pack("<IH", addr, count)


class FrameParser:
    """Incremental parser of frames with a given sync byte (the driver uses it for replies).

    ``feed(data)`` returns the complete frames found, as (seq, code, payload) tuples; bytes
    that do not start a frame, and frames whose CRC fails, are counted and skipped
    (the parser then hunts for the next sync byte after the bad frame's first byte).
    """

    def __init__(self, sync: int):
        self.sync = sync
        self.buf = bytearray()
        self.dropped = 0
        self.crc_errors = 0

    def feed(self, data: bytes) -> list[tuple[int, int, bytes]]:
        self.buf += data
        out = []
        while True:
            i = self.buf.find(bytes([self.sync]))
            if i < 0:
                self.dropped += len(self.buf)
                self.buf.clear()
                return out
            if i:
                self.dropped += i
                del self.buf[:i]
            if len(self.buf) < HEADER_BYTES:
                return out
            n = self.buf[3] | self.buf[4] << 8
            if n > MAX_PAYLOAD:
                self.dropped += 1
                del self.buf[:1]
                continue
            total = HEADER_BYTES + n + CRC_BYTES
            if len(self.buf) < total:
                # Still incomplete; but if it is a false sync byte, a complete frame that
                # starts later must not wait for its announced length: look ahead.
                j = self._valid_frame_after(1)
                if j is None:
                    return out
                self.dropped += j
                del self.buf[:j]
                continue
            frame = self._parse_at(0)
            if frame is None:
                self.crc_errors += 1
                del self.buf[:1]
                continue
            out.append(frame)
            del self.buf[:total]

    def _parse_at(self, i: int):
        """The frame at buf[i] as (seq, code, payload) if complete with a good CRC."""
        b = self.buf
        if len(b) < i + HEADER_BYTES or b[i] != self.sync:
            return None
        n = b[i + 3] | b[i + 4] << 8
        end = i + HEADER_BYTES + n + CRC_BYTES
        if n > MAX_PAYLOAD or len(b) < end:
            return None
        body = bytes(b[i + 1:i + HEADER_BYTES + n])
        if crc16(body) != (b[end - 2] | b[end - 1] << 8):
            return None
        return body[0], body[1], body[4:]

    def _valid_frame_after(self, start: int):
        i = self.buf.find(bytes([self.sync]), start)
        while i >= 0:
            if self._parse_at(i) is not None:
                return i
            i = self.buf.find(bytes([self.sync]), i + 1)
        return None
