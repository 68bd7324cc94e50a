"""The ctypes binding: labels, errors as exceptions, ownership."""
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "integration"))
import cloudrec  # noqa: E402
from darknet_reference import PROBABILITY_TOLERANCE, STOCK_TOP3  # noqa: E402

DOG = Path("/usr/share/darknet/data/dog.jpg")
SAMPLES = sorted(Path("/usr/share/darknet/data").glob("*.jpg"))


@pytest.fixture(scope="module")
def clf():
    with cloudrec.Classifier() as c:
        yield c


def test_labels_match_stock_darknet(clf):
    """Top-3 labels and probabilities as the stock `darknet classifier predict`
    prints them (tests/integration/darknet_reference.py), not as our CLI does."""
    assert sorted(p.name for p in SAMPLES) == sorted(STOCK_TOP3)
    for path in SAMPLES:
        got = clf.classify_file(path, top=3)
        want = STOCK_TOP3[path.name]
        assert [g[0] for g in got] == [w[0] for w in want], path.name
        for (label, pg), (_, pw) in zip(got, want):
            assert abs(pg - pw) <= PROBABILITY_TOLERANCE, f"{path.name} {label}: {pg} vs {pw}"


def test_bytes_and_path_agree(clf):
    assert clf.classify(DOG.read_bytes(), top=5) == clf.classify_file(DOG, top=5)


def test_top_k_sorted_and_bounded(clf):
    top = clf.classify_file(DOG, top=10)
    assert len(top) == 10
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True)
    assert all(0.0 <= p <= 1.0 for p in probs)
    assert len(clf.classify_file(DOG, top=5000)) == clf.num_classes == 1000
    with pytest.raises(ValueError):
        clf.classify_file(DOG, top=0)


def test_errors_raise_with_status_and_message(clf, tmp_path):
    with pytest.raises(cloudrec.Unsupported) as e:
        clf.classify(b"definitely not an image")
    assert e.value.name == "ERR_UNSUPPORTED" and e.value.status == 7
    assert isinstance(e.value, cloudrec.CloudrecError)
    assert "not a JPEG or PNG" in e.value.message

    with pytest.raises(cloudrec.InvalidInput) as e:
        clf.classify(DOG.read_bytes()[:5000])
    assert e.value.name == "ERR_FORMAT" and isinstance(e.value, ValueError)

    missing = tmp_path / "missing.jpg"
    with pytest.raises(cloudrec.NotFound) as e:
        clf.classify_file(missing)
    assert e.value.name == "ERR_NOT_FOUND" and str(missing) in e.value.message
    assert isinstance(e.value, LookupError)

    # The classifier is still usable after errors.
    assert clf.classify_file(DOG, top=1)


def test_decode_limits():
    with cloudrec.Classifier(max_pixels=1000) as small:
        with pytest.raises(cloudrec.CloudrecError) as e:
            small.classify_file(DOG)
        assert e.value.name == "ERR_TOO_LARGE"


def test_bad_model_raises(tmp_path):
    with pytest.raises(cloudrec.CloudrecError) as e:
        cloudrec.Classifier(tmp_path)
    assert e.value.name == "ERR_NOT_FOUND" and "tiny.weights" in e.value.message

    paths = cloudrec.model_paths()
    truncated = tmp_path / "tiny.weights"
    truncated.write_bytes(Path(paths["weights"]).read_bytes()[:100000])
    with pytest.raises(cloudrec.CloudrecError) as e:
        cloudrec.Classifier(tmp_path)
    assert e.value.name == "ERR_MODEL" and "truncated" in e.value.message


def test_closed_classifier_raises():
    c = cloudrec.Classifier()
    c.close()
    c.close()  # idempotent
    with pytest.raises(cloudrec.CloudrecError) as e:
        c.classify_file(DOG)
    assert e.value.name == "ERR_STATE"


def test_engines_agree_and_are_named():
    """engine= picks the engine; both give the same labels on the samples."""
    with cloudrec.Classifier(engine="native") as nat, cloudrec.Classifier(engine="darknet") as dn:
        assert (nat.engine, dn.engine) == ("native", "darknet")
        for path in SAMPLES:
            got, want = nat.classify_file(path, top=5), dn.classify_file(path, top=5)
            assert [g[0] for g in got] == [w[0] for w in want], path.name
            assert all(abs(g[1] - w[1]) <= 1e-4 for g, w in zip(got, want)), path.name
    with cloudrec.Classifier() as auto:
        assert auto.engine == "native"  # tiny.cfg is supported
    with pytest.raises(ValueError):
        cloudrec.Classifier(engine="fast")
