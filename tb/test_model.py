"""Self-tests of the Python reference model against the abi export."""

from common import seeded

import pytest

from model import Geometry, PipelineModel, cuckoo_buckets, emc_candidates, hash_key, hash_masked, load_abi
from model.hashing import crc32c

ABI = load_abi()


def test_hash_test_vectors():
    assert ABI.test_vectors, "the export has test vectors"
    for key, mask, h in ABI.test_vectors:
        assert hash_masked(key, mask) == h
    # The check value of CRC-32C.
    assert crc32c(b"123456789") == 0xE3069283


def test_pure_python_crc_matches_crcmod():
    import model.hashing as mh

    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)

    def slow(data):
        c = 0xFFFFFFFF
        for b in data:
            c = table[(c ^ b) & 0xFF] ^ (c >> 8)
        return c ^ 0xFFFFFFFF

    r = seeded(1)
    for _ in range(50):
        d = bytes(r.randrange(256) for _ in range(64))
        assert mh.crc32c(d) == slow(d)


def test_layouts_round_trip():
    r = seeded(2)
    for _ in range(100):
        vals = {n: r.randrange(1 << ABI.f(n).width) for n in ("CMD_OP", "CMD_SLOT", "CMD_INDEX", "CMD_FLOW_ID")}
        w = ABI.encode(**vals)
        assert {n: ABI.f(n).get(w) for n in vals} == vals
    # Key fields lie inside one word and do not overlap except documented aliases.
    for f in ABI.key_fields.values():
        assert f.shift + f.width <= 64


def test_candidates():
    h = 0x02AB3F0F
    assert emc_candidates(h, 13) == [h & 0xFFF, 0x1000 | ((h >> 12) & 0xFFF)]
    assert cuckoo_buckets(0x12345678, 8) == [0x78, 0x80 | 0x34]


def test_default_capability_words_match_geometry():
    g = Geometry.from_dict(ABI.default_geometry)
    caps = ABI.default_capability
    r = ABI.regs
    assert ABI.f("CAP_EMC_LOG2_ENTRIES").get(caps[r["CAP_EMC"]]) == g.emc_log2_entries
    assert ABI.f("CAP_MF_SLOTS").get(caps[r["CAP_MF"]]) == g.mf_slots
    assert ABI.f("ID_MAGIC").get(caps[r["ID"]]) != 0


def test_geometry_index_is_bucket_and_way_side_by_side():
    with pytest.raises(ValueError, match="mf_bucket_slots = 3 is not a power of two"):
        Geometry(4, 2, 2, 3, 2)
    for k in (1, 2, 4, 8):
        g = Geometry(4, 2, 3, k, 2)
        idx = [g.mf_index(b, w) for b in range(g.mf_buckets) for w in range(k)]
        # The v1 arithmetic rule gives the same numbers for a power-of-two k.
        assert idx == [b * k + w for b in range(g.mf_buckets) for w in range(k)]
        assert idx == list(range(g.mf_entries_per_slot))


def test_pipeline_model_commands_and_lookups():
    g = Geometry(4, 2, 2, 4, 2)
    m = PipelineModel(ABI, g)
    r = ABI.regs
    k = ABI.key(in_port=7, dl_type=0x800, nw_dst=0x0A000001)
    for i, w in enumerate(k):
        m.write(r["STAGE_KEY"] + 8 * i, w)
    pos = g.emc_candidates(hash_key(k))[1]
    m.write(r["CMD"], ABI.command("EmcWrite", 0, pos, 11))
    assert m.read(r["STATUS"]) == 0
    word, h = m.lookup(k, 5)
    assert word == ABI.result("Emc", 0, pos, 11) and h == hash_key(k)
    # A megaflow under a mask on in_port only.
    mask = ABI.key(in_port=0xFFFFFFFF)
    for i, w in enumerate(mask):
        m.write(r["STAGE_KEY"] + 8 * i, w)
    m.write(r["CMD"], ABI.command("MaskSet", 1))
    k2 = ABI.key(in_port=3, nw_dst=5)
    b = g.cuckoo_buckets(hash_masked(k2, mask))[0]
    for i, w in enumerate(k2):
        m.write(r["STAGE_KEY"] + 8 * i, w)
    m.write(r["CMD"], ABI.command("MfWrite", 1, g.mf_index(b, 2), 22))
    assert m.lookup(ABI.key(in_port=3, nw_dst=99), 1)[0] == ABI.result("Megaflow", 1, g.mf_index(b, 2), 22)
    # Bad slot is rejected and counted.
    m.write(r["CMD"], ABI.command("MaskSet", g.mf_slots))
    assert ABI.f("STATUS_CMD_ERROR").get(m.read(r["STATUS"])) == 1
    # Misses fill the queue, then drop.
    for t in range(6):
        m.lookup(ABI.key(in_port=100 + t), t)
    assert m.read(r["MISSQ_LEVEL"]) == g.missq_depth
    assert m.read(r["CNT_MISS_DROPS"]) == 6 - g.missq_depth
    assert ABI.f("MISS_TAG").get(m.read(r["MISSQ_META"])) == 0
    m.write(r["MISSQ_POP"], 1)
    assert ABI.f("MISS_TAG").get(m.read(r["MISSQ_META"])) == 1
