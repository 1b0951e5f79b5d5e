"""Writes the embedded photos (idgi_fast/data/photo_files/) from the packages that carry them: six of
scikit-image's sample images and scikit-learn's two, as JPEG (quality 95; JPEG sources copied byte
for byte), with labels.tsv (file<TAB>wnid, for the photos ImageNet-1k has a class for) and
photos.json (each photo's source, author and licence). Run once by a maintainer:

    pip install scikit-image scikit-learn && python bench/embed_photos.py
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import skimage
import sklearn.datasets
from PIL import Image

TARGET = Path(__file__).parents[1] / "idgi_fast" / "data" / "photo_files"
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
            dict(file=file, wnid=wnid, imagenet_class=label, author=author, licence=licence, package=package)
        )
        if wnid is not None:
            labels.append(f"{file}\t{wnid}")
    (TARGET / "labels.tsv").write_text("\n".join(labels) + "\n")
    (TARGET / "photos.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
