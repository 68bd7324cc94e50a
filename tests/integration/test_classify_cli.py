"""`cloudrec classify` against the stock `darknet classifier predict`, and bad inputs."""
import functools
import json
import os
import random
import re
import shutil
from pathlib import Path

import pytest

from conftest import DARKNET_CFG, DARKNET_DATA, png_bytes, run
from darknet_reference import PROBABILITY_TOLERANCE, STOCK_TOP3

DOG = DARKNET_DATA / "dog.jpg"


@functools.lru_cache(maxsize=None)
def darknet_reference(image: Path, cfg: Path, weights: Path):
    """Top-5 (label, probability) printed by the stock darknet command."""
    res = run(["darknet", "classifier", "predict", str(DARKNET_CFG / "imagenet1k.data"),
               str(cfg), str(weights), str(image)])
    assert res.returncode == 0, res.stderr[-2000:]
    top = []
    for line in res.stdout.splitlines():
        m = re.match(r"^\s*([0-9.]+)%: (.+)$", line)
        if m:
            top.append((m.group(2), float(m.group(1)) / 100.0))
    assert len(top) == 5, res.stdout
    return top


def classify_dog_fails(cli, *args, **kw):
    """Runs `cloudrec classify ARGS dog.jpg`, which must exit with status 2 (a
    usage or model error); returns the finished process."""
    res = run([cli, "classify", *args, str(DOG)], **kw)
    assert res.returncode == 2, res.stderr
    return res


def classify_json(cli, paths, *extra):
    res = run([cli, "classify", "--json", *extra, *map(str, paths)])
    return res, [json.loads(line) for line in res.stdout.splitlines()]


@pytest.mark.parametrize("engine", ["native", "darknet", "auto"])
def test_matches_stock_darknet_on_every_sample(cli, model_dir, sample_images, tiny_cfg_batch1,
                                               engine):
    res, answers = classify_json(cli, sample_images, "--top", "5", "--engine", engine)
    assert res.returncode == 0, res.stderr
    assert [a["file"] for a in answers] == [str(p) for p in sample_images]
    for image, answer in zip(sample_images, answers):
        want = darknet_reference(image, tiny_cfg_batch1, model_dir / "tiny.weights")
        # The table the other tests take their expected labels from is what
        # the stock command says in this run.
        table = STOCK_TOP3[image.name]
        assert [w[0] for w in want[:3]] == [t[0] for t in table], image.name
        assert all(abs(w[1] - t[1]) <= PROBABILITY_TOLERANCE for w, t in zip(want, table))
        got = [(p["label"], p["probability"]) for p in answer["predictions"]]
        assert [g[0] for g in got] == [w[0] for w in want], image.name
        for (label, p_got), (_, p_want) in zip(got, want):
            # darknet prints percentages with two decimals: 1e-4 resolution.
            assert abs(p_got - p_want) <= 1e-4, f"{image.name} {label}: {p_got} vs {p_want}"


def test_text_output_and_top(cli):
    res = run([cli, "classify", "--top", "3", str(DOG)])
    assert res.returncode == 0, res.stderr
    line = res.stdout.strip()
    assert line.startswith(f"{DOG}: ")
    assert line.count("%)") == 3
    assert res.stderr == ""


def test_engine_flag(cli):
    res = classify_dog_fails(cli, "--engine", "fast")
    assert "--engine must be auto, native or darknet" in res.stderr
    assert "--engine" in run([cli, "classify", "--help"]).stdout


def test_unsupported_cfg_falls_back_to_darknet(cli, model_dir, tmp_path):
    """A cfg the native engine lacks (a logistic activation) is refused by
    --engine native, and --engine auto runs it on Darknet."""
    cfg = tmp_path / "logistic.cfg"
    cfg.write_text((DARKNET_CFG / "tiny.cfg").read_text().replace(
        "activation=leaky", "activation=logistic", 1))
    args = ["--model", str(model_dir), "--cfg", str(cfg), str(DOG)]
    res = run([cli, "classify", "--engine", "native", *args])
    assert res.returncode == 2 and "logistic" in res.stderr and "layer 0" in res.stderr
    res = run([cli, "-v", "classify", *args])
    assert res.returncode == 0, res.stderr
    assert "using Darknet" in res.stderr and "logistic" in res.stderr


def test_top_out_of_range_is_a_usage_error(cli):
    for top in ("0", "1001", "-3", "5x"):
        assert "--top" in classify_dog_fails(cli, "--top", top).stderr, top


def _corrupt_huffman(jpeg: bytes) -> bytes:
    """Overwrites the code counts of the first DHT segment with nonsense."""
    i = jpeg.index(b"\xff\xc4")
    data = bytearray(jpeg)
    for k in range(i + 5, i + 5 + 16):
        data[k] = 0xFF
    return bytes(data)


BAD_INPUTS = {
    "empty.jpg": (lambda: b"", r"empty"),
    "random.jpg": (lambda: random.Random(7).randbytes(4096), r"not a JPEG or PNG"),
    "truncated.jpg": (lambda: DOG.read_bytes()[: len(DOG.read_bytes()) // 2], r"(?i)truncat|premature"),
    "truncated.png": (lambda: png_bytes(64, 64)[:150], r"(?i)truncat|premature|incomplete|PNG"),
    "huge.png": (lambda: png_bytes(100000, 100000, rows=b"\0" * 10), r"100000x100000"),
    "bad-huffman.jpg": (lambda: _corrupt_huffman(DOG.read_bytes()), r"(?i)huffman"),
    "text.jpg": (lambda: b"hello, this is a text file and not an image\n", r"not a JPEG or PNG"),
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_bad_input_is_reported_and_others_still_classified(cli, tmp_path, name):
    make, reason = BAD_INPUTS[name]
    bad = tmp_path / name
    bad.write_bytes(make())
    res = run([cli, "classify", str(bad), str(DOG)])
    assert res.returncode == 1
    err_lines = res.stderr.strip().splitlines()
    assert len(err_lines) == 1, res.stderr
    assert str(bad) in err_lines[0]
    assert re.search(reason, err_lines[0]), err_lines[0]
    # The good file after the bad one is still classified.
    assert res.stdout.startswith(f"{DOG}: "), res.stdout


def test_bad_input_in_json_mode(cli, tmp_path):
    bad = tmp_path / "text.jpg"
    bad.write_text("not an image")
    res, answers = classify_json(cli, [bad, DOG])
    assert res.returncode == 1
    assert answers[0]["status"] == "ERR_UNSUPPORTED" and "error" in answers[0]
    assert answers[1]["predictions"]


def test_missing_file(cli, tmp_path):
    missing = tmp_path / "nope.jpg"
    res = run([cli, "classify", str(missing), str(DOG)])
    assert res.returncode == 1
    assert str(missing) in res.stderr and "No such file" in res.stderr
    assert res.stdout.startswith(f"{DOG}: ")


def test_missing_weights(cli, tmp_path):
    res = classify_dog_fails(cli, "--model", str(tmp_path))
    assert "tiny.weights" in res.stderr and str(tmp_path) in res.stderr
    assert res.stdout == ""


@pytest.mark.parametrize("keep", [0, 10, 1000, 4185968 - 4])
def test_truncated_weights(cli, model_dir, tmp_path, keep):
    (tmp_path / "tiny.weights").write_bytes((model_dir / "tiny.weights").read_bytes()[:keep])
    res = classify_dog_fails(cli, "--model", str(tmp_path))
    assert "truncated" in res.stderr and "tiny.weights" in res.stderr
    assert res.stdout == ""


def test_oversized_weights(cli, model_dir, tmp_path):
    (tmp_path / "tiny.weights").write_bytes((model_dir / "tiny.weights").read_bytes() + b"\0" * 8)
    assert "oversized" in classify_dog_fails(cli, "--model", str(tmp_path)).stderr


def test_bad_cfg(cli, model_dir, tmp_path):
    cfg = tmp_path / "bad.cfg"
    args = ["--model", str(model_dir), "--cfg", str(cfg)]
    cfg.write_text("[convolutional]\nfilters=3\n")
    assert "first section must be [net]" in classify_dog_fails(cli, *args).stderr
    cfg.write_text((DARKNET_CFG / "tiny.cfg").read_text() + "\n[wormhole]\nsize=1\n")
    assert "unknown section [wormhole]" in classify_dog_fails(cli, *args).stderr


def test_short_names_file(cli, model_dir, tmp_path):
    names = tmp_path / "names.list"
    names.write_text("tench\ngoldfish\n")
    res = classify_dog_fails(cli, "--model", str(model_dir), "--names", str(names))
    assert "2 names" in res.stderr


def test_model_dir_with_own_names_is_used(cli, model_dir, tmp_path):
    """A model directory may carry its own names.list (first N lines used)."""
    (tmp_path / "tiny.weights").symlink_to(model_dir / "tiny.weights")
    (tmp_path / "names.list").write_text("".join(f"class{i}\n" for i in range(1000)))
    res, answers = classify_json(cli, [DOG], "--model", str(tmp_path), "--top", "1")
    assert res.returncode == 0, res.stderr
    label = answers[0]["predictions"][0]["label"]
    index = answers[0]["predictions"][0]["class"]
    assert label == f"class{index}"


def test_model_fetch_checks_sha256(cli, model_dir, tmp_path):
    src = model_dir / "tiny.weights"
    good = "f1c3fe6b9bab9af69ae2a090682df3e5b9d83accba69551315f030ce1b37ea81"
    dest = tmp_path / "fetched"
    res = run([cli, "model", "fetch", "--url", f"file://{src}", "--sha256", good,
               "--dest", str(dest)])
    assert res.returncode == 0, res.stderr
    assert (dest / "tiny.weights").read_bytes() == src.read_bytes()

    bad_dest = tmp_path / "bad"
    res = run([cli, "model", "fetch", "--url", f"file://{src}", "--sha256", "0" * 64,
               "--dest", str(bad_dest)])
    assert res.returncode == 1 and "SHA-256" in res.stderr
    assert not (bad_dest / "tiny.weights").exists()
    assert list(bad_dest.iterdir()) == []  # no temporary file left behind

    res = run([cli, "model", "fetch", "--url", f"file://{tmp_path}/absent", "--sha256", good,
               "--dest", str(bad_dest)])
    assert res.returncode == 1 and "absent" in res.stderr

    res = run([cli, "model", "fetch", "--url", f"file://{src}", "--sha256", "xyz",
               "--dest", str(bad_dest)])
    assert res.returncode == 2 and "64 hex" in res.stderr


def test_model_path(cli, model_dir):
    res = run([cli, "model", "path", "--model", str(model_dir)])
    assert res.returncode == 0
    assert f"weights  {model_dir}/tiny.weights" in res.stdout


def test_help_and_usage_errors(cli):
    for args in (["--help"], ["classify", "--help"], ["model", "--help"]):
        res = run([cli, *args])
        assert res.returncode == 0 and "usage:" in res.stdout, args
    for args in ([], ["frobnicate"], ["classify"], ["classify", "--top", "x", "a.jpg"],
                 ["classify", "--no-such-flag"]):
        res = run([cli, *args])
        assert res.returncode == 2 and res.stderr, args


def test_missing_darknet_library(cli, model_dir):
    env = dict(os.environ, CLOUDREC_DARKNET_LIB="/nonexistent/libdarknet.so")
    res = classify_dog_fails(cli, "--engine", "darknet", "--model", str(model_dir), env=env)
    assert "/nonexistent/libdarknet.so" in res.stderr and "apt-get install darknet" in res.stderr
