"""Host protocol framing (cfsnn.protocol), host side."""

import pytest

from cfsnn import protocol as PR


def test_crc_check_value():
    assert PR.crc16(b"123456789") == 0x29B1


def test_round_trip_and_resync(seeded_rng):
    frames = [PR.reply(i, PR.Status.OK, bytes(seeded_rng.integers(0, 256, size=int(n)).tolist()))
              for i, n in enumerate(seeded_rng.integers(0, 40, size=20))]
    stream = b"".join(b"\x5a\x00\xff" + f for f in frames)     # junk, and false syncs
    p = PR.FrameParser(PR.REP_SYNC)
    got = []
    for i in range(0, len(stream), 7):                        # arrives in pieces
        got += p.feed(stream[i:i + 7])
    assert [g[0] for g in got] == list(range(20))
    assert [g[2] for g in got] == [f[5:-2] for f in frames]


def test_corrupted_frame_is_skipped():
    a, b = PR.reply(1, PR.Status.OK, b"abc"), PR.reply(2, PR.Status.OK, b"def")
    bad = bytearray(a)
    bad[6] ^= 1
    p = PR.FrameParser(PR.REP_SYNC)
    assert [f[0] for f in p.feed(bytes(bad) + b)] == [2]
    assert p.crc_errors == 1


def test_payload_limit():
    with pytest.raises(ValueError, match="MAX_PAYLOAD"):
        PR.request(0, PR.Op.WRITE, bytes(PR.MAX_PAYLOAD + 1))
    assert PR.unwords(PR.words([1, 0xFFFFFFFF])) == [1, 0xFFFFFFFF]
