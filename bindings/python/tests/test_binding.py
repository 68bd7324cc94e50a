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


# The C struct each ctypes mirror in cloudrec/__init__.py stands for.
MIRRORS = {"_Error": "cr_error", "_Prediction": "cr_prediction", "_ModelPaths": "cr_model_paths",
           "_Buf": "cr_buf", "_S3Object": "cr_s3_object",
           "_S3CreateBucketOptions": "cr_s3_create_bucket_options",
           "_S3PutOptions": "cr_s3_put_options", "_S3GetOptions": "cr_s3_get_options",
           "_SqsCreateOptions": "cr_sqs_create_options", "_SqsSendOptions": "cr_sqs_send_options",
           "_SqsReceiveOptions": "cr_sqs_receive_options", "_SqsMessage": "cr_sqs_message",
           "_SqsMessages": "cr_sqs_messages"}


def test_mirrored_structs_match_the_c_layout(tmp_path):
    """Every struct the binding still mirrors has the size and field offsets
    the C compiler gives the public headers, so a field added in C cannot
    silently shift what Python reads or writes."""
    import ctypes
    import os
    import shutil
    import subprocess
    mirrors = {name: cls for name, cls in vars(cloudrec).items()
               if isinstance(cls, type) and issubclass(cls, ctypes.Structure)}
    assert sorted(mirrors) == sorted(MIRRORS), "a mirror was added or removed: update MIRRORS"
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if not cc:
        pytest.skip("no C compiler to read the layouts with")
    include = Path(os.environ.get("CLOUDREC_SOURCE_ROOT", Path(__file__).resolve().parents[3]))
    lines = ["#include <stddef.h>", "#include <stdio.h>", "#include <cloudrec.h>",
             "int main(void) {"]
    want = []
    for py, c in sorted(MIRRORS.items()):
        lines.append(f'printf("{py} %zu\\n", sizeof(struct {c}));')
        want.append(f"{py} {ctypes.sizeof(mirrors[py])}")
        for field in mirrors[py]._fields_:
            lines.append(f'printf("{py}.{field[0]} %zu\\n", offsetof(struct {c}, {field[0]}));')
            want.append(f"{py}.{field[0]} {getattr(mirrors[py], field[0]).offset}")
    lines.append("return 0; }")
    src = tmp_path / "layouts.c"
    src.write_text("\n".join(lines) + "\n")
    exe = tmp_path / "layouts"
    res = subprocess.run([cc, "-I", str(include / "include"), str(src), "-o", str(exe)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    got = subprocess.run([str(exe)], capture_output=True, text=True, check=True).stdout.split("\n")
    assert [g for g in got if g] == want


def test_bad_option_values_raise_invalid_input():
    """Options reach the library as name=value strings; it names a bad one."""
    with pytest.raises(cloudrec.InvalidInput) as e:
        cloudrec.Classifier(max_bytes=-1)
    assert "max_bytes" in e.value.message
    with pytest.raises(cloudrec.InvalidInput) as e:
        cloudrec.Aws(region="us-east-1", timeout_ms=-2**70)
    assert "timeout_ms" in e.value.message
