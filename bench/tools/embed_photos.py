"""Writes the embedded photos (idgi_fast/data/photo_files/) from the packages that carry them: six of
scikit-image's sample images and scikit-learn's two, as JPEG (quality 95; JPEG sources copied byte
for byte), with labels.tsv (file<TAB>wnid, for the photos ImageNet-1k has a class for) and
photos.json (each photo's source, author, licence and our box around the object its label names).
Run once by a maintainer:

    pip install scikit-image scikit-learn && python bench/tools/embed_photos.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import skimage
import sklearn.datasets
from PIL import Image

TARGET = Path(__file__).parents[2] / "idgi_fast" / "data" / "photo_files"
SKIMAGE, SKLEARN = Path(skimage.__file__).parent / "data", Path(sklearn.datasets.__file__).parent / "images"
CC0, PUBLIC, CC_BY = "CC0 1.0", "public domain", "CC BY 2.0 (https://creativecommons.org/licenses/by/2.0/)"
STEFAN = "Stefan van der Walt"
# name: (source file, wnid or None, what ImageNet-1k class, author, licence, where it was published)
PHOTOS = {
    "chelsea": (SKIMAGE / "chelsea.png", "n02123159", "tiger cat", STEFAN, CC0, "scikit-image"),
    "coffee": (SKIMAGE / "coffee.png", "n07920052", "espresso", "Rachel Michetti", CC0, "scikit-image"),
    "rocket": (SKIMAGE / "rocket.jpg", "n03773504", "missile", "SpaceX", PUBLIC, "scikit-image"),
    "astronaut": (SKIMAGE / "astronaut.png", None, "none (a person)", "NASA", PUBLIC, "scikit-image"),
    "camera": (SKIMAGE / "camera.png", "n04485082", "tripod", "Lav Varshney", CC0, "scikit-image"),
    "clock": (SKIMAGE / "clock_motion.png", "n04548280", "wall clock", STEFAN, PUBLIC, "scikit-image"),
    "china": (SKLEARN / "china.jpg", "n03877845", "palace", "danielbuechele (Flickr)", CC_BY, "scikit-learn"),
    "flower": (SKLEARN / "flower.jpg", "n11939491", "daisy", "vultilion (Flickr)", CC_BY, "scikit-learn"),
}  # fmt: skip
# Our boxes around the labelled object, drawn by eye on the originals: (left, top, right, bottom) in
# pixels, right and bottom exclusive. The cat fills its frame, so its box is all the 224² crop: energy
# and pointing game are 1 there by construction.
BOXES = {
    "chelsea": (10, 0, 420, 300),
    "coffee": (165, 15, 420, 305),
    "rocket": (300, 125, 348, 410),
    "camera": (228, 180, 410, 512),
    "clock": (140, 90, 290, 215),
    "china": (60, 25, 370, 390),
    "flower": (165, 85, 450, 360),
}


def main() -> None:
    TARGET.mkdir(parents=True, exist_ok=True)
    manifest, labels = [], []
    for name, (source, wnid, label, author, licence, package) in PHOTOS.items():
        file = f"{name}.jpg"
        if source.suffix == ".jpg":
            shutil.copyfile(source, TARGET / file)
        else:
            Image.open(source).convert("RGB").save(TARGET / file, quality=95)
        manifest.append(
            dict(
                file=file,
                wnid=wnid,
                imagenet_class=label,
                author=author,
                licence=licence,
                package=package,
                box=BOXES.get(name),
            )
        )
        if wnid is not None:
            labels.append(f"{file}\t{wnid}")
    (TARGET / "labels.tsv").write_text("\n".join(labels) + "\n")
    (TARGET / "photos.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
