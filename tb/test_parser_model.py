"""The parser model (tb/model/parser.py) against the host's software parser:
every crafted frame, every cut of the good frames and random frames go
through `extract` (host-fastpath/examples/extract_hex.rs) and the model
without a window; key and meta word must be equal bit for bit. With the
window (the hardware's contract), the model must give the same verdict or an
exception, and an exception only where the contract allows one."""

import subprocess

import pytest

from common import REPO, seeded
from model import load_abi
from model.parser import ParserModel
from parser_frames import cuts, good_frames, malformed_frames, random_frame

RANDOM_FRAMES = 20000


@pytest.fixture(scope="module")
def model():
    return ParserModel(load_abi())


def corpus():
    """(vlan_limit, in_port, frame) cases."""
    r = seeded(5)
    good = [f for _, f in good_frames()]
    cases = [(lim, i % 65536, f) for lim in (1, 2) for i, f in enumerate(cuts(good))]
    cases += [(lim, 77, f) for _, f, lim, _ in malformed_frames()]
    cases += [(0, 1, good[-3]), (3, 2, good[-3])]  # vlan-limit 0 and above the cap
    cases += [(r.choice([1, 2]), r.getrandbits(16), random_frame(r))
              for _ in range(RANDOM_FRAMES)]
    return cases


def extract(cases):
    """The software parser's (key words, meta) for each case."""
    inp = "".join(f"{lim} {port} {f.hex()}\n" for lim, port, f in cases)
    out = subprocess.run(
        ["cargo", "run", "-q", "--locked", "-p", "host-fastpath", "--example", "extract_hex"],
        cwd=REPO, input=inp, capture_output=True, text=True, check=True,
    ).stdout.splitlines()
    assert len(out) == len(cases)
    res = []
    for line in out:
        w = [int(x, 16) for x in line.split()]
        res.append((w[:8], w[8]))
    return res


def test_model_equals_extract(model):
    cases = corpus()
    # extract counts two reasons for an oversized frame with a VLAN
    # reason; the hardware (and the model with its window) gives an
    # exception, the software cross-check leaves it out.
    sw = []
    for c in cases:
        try:
            sw.append((c, model.parse(c[2], c[1], c[0], window=False)))
        except ValueError:
            assert len(c[2]) > model.max_frame_len
    rust = extract([c for c, _ in sw])
    bad = [(c, got, want) for (c, got), want in zip(sw, rust) if got != want]
    for (lim, port, f), got, want in bad[:5]:
        print(f"vlan_limit {lim} port {port} frame {f.hex()}\n  model   {got}\n  extract {want}")
    assert not bad, f"{len(bad)} of {len(sw)} frames differ from extract"
    reasons = {model.decode_meta(m)["malformed"] for _, m in rust}
    assert reasons >= set(model.reasons) - {"bad_ip_version"}, "a malformed reason is never hit"
    assert any(model.decode_meta(m)["bad_ip_version"] for _, m in rust)


def test_window_gives_extract_or_an_allowed_exception(model):
    seen = set()
    for lim, port, f in corpus():
        hw = model.verdict(f, port, lim, window=True)
        if hw.exception is None:
            assert (hw.key, model.meta(hw)) == model.parse(f, port, lim, window=False), f.hex()
            continue
        seen.add(hw.exception)
        assert hw.key == [0] * 8 and model.decode_meta(model.meta(hw))["malformed"] is None
        if hw.exception == "past_window":
            assert len(f) > model.window, f.hex()
        else:
            sw = model.verdict(f, port, lim, window=False)
            assert sw.key[0] >> model.abi.key_fields["DL_TYPE"].shift & 0xFFFF == 0x86DD
    assert seen == set(model.exceptions)


def test_crafted_frames_hit_their_reason(model):
    for name, f, lim, want in malformed_frames():
        v = model.verdict(f, 9, lim, window=True)
        assert (v.exception or v.reason) == want, name
