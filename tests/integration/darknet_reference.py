"""What the stock `darknet classifier predict` says for Darknet's sample images.

The expected labels of the tests come from here, never from cloudrec itself:
top-3 (label, probability) printed by

    darknet classifier predict /usr/share/darknet/cfg/imagenet1k.data \\
        tiny.cfg (batch=1, subdivisions=1) tiny.weights /usr/share/darknet/data/<image>

with the Tiny Darknet weights (sha256 f1c3fe6b...ea81) and Debian 12's darknet
package. test_classify_cli.py checks this table against the stock command in
every run, so a different model or Darknet shows up there first.
"""
from pathlib import Path

DARKNET_DATA = Path("/usr/share/darknet/data")

# image name -> top-3 [(label, probability)], probabilities as darknet prints
# them (percent with two decimals, here divided by 100).
STOCK_TOP3 = {
    "dog.jpg": [("malamute", 0.1418), ("Newfoundland", 0.0613), ("dogsled", 0.0548)],
    "eagle.jpg": [("bald eagle", 0.5371), ("ruddy turnstone", 0.1199), ("kite", 0.1183)],
    "giraffe.jpg": [("zebra", 0.2963), ("tiger cat", 0.0875), ("great grey owl", 0.0784)],
    "horses.jpg": [("warthog", 0.2554), ("bighorn", 0.1641), ("water buffalo", 0.1560)],
    "kite.jpg": [("sandbar", 0.3350), ("seashore", 0.2432), ("lakeside", 0.0244)],
    "person.jpg": [("llama", 0.1476), ("standard poodle", 0.1290), ("kuvasz", 0.0751)],
    "scream.jpg": [("sarong", 0.1695), ("paintbrush", 0.1059), ("wardrobe", 0.0818)],
}

# Darknet prints two decimals of a percentage: 5e-5 rounding, plus slack.
PROBABILITY_TOLERANCE = 1e-4


def stock_top1(name: str) -> str:
    """The stock top-1 label of a sample image (by base name, e.g. dog.jpg)."""
    assert name in STOCK_TOP3, f"{name}: not one of Darknet's sample images"
    return STOCK_TOP3[name][0][0]


def stock_labels(paths) -> dict:
    """basename -> stock top-1 label, for every path (each must be a sample)."""
    return {Path(p).name: stock_top1(Path(p).name) for p in paths}
