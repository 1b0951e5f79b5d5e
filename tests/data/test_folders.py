"""Image folders: ImageFolder and flat-with-labels layouts, class indices from the wnid list,
resize + centre crop, unreadable files skipped and reported, and every format error named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from idgi_fast.data.folders import box_mask, folder_records, load_image, load_records


def write_png(path, width, height, colour):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), colour, dtype=np.uint8)).save(path)


@pytest.fixture
def image_folder(tmp_path):
    root = tmp_path / "val"
    write_png(root / "n02" / "b.png", 40, 30, (255, 0, 0))
    write_png(root / "n02" / "a.png", 30, 60, (0, 255, 0))
    write_png(root / "n01" / "c.png", 33, 33, (0, 0, 255))
    (root / "n01" / "broken.JPEG").write_bytes(b"not a jpeg at all")
    (root / "n01" / "notes.txt").write_text("ignored: not an image suffix")
    return root


def test_image_folder_layout_sorted_with_sorted_class_folders(image_folder):
    records = folder_records(image_folder)
    assert [(r.id, r.label) for r in records] == [
        ("n01/broken.JPEG", 0),
        ("n01/c.png", 0),
        ("n02/a.png", 1),
        ("n02/b.png", 1),
    ]


def test_wnid_list_sets_the_class_indices(image_folder, tmp_path):
    wnids = tmp_path / "wnids.txt"
    wnids.write_text("n00\nn02\nn01\n")
    assert {r.id: r.label for r in folder_records(image_folder, wnids_file=wnids)}["n01/c.png"] == 2


def test_flat_folder_with_a_label_file(tmp_path):
    root = tmp_path / "flat"
    write_png(root / "x1.png", 20, 20, (10, 20, 30))
    write_png(root / "x2.png", 20, 20, (10, 20, 30))
    (tmp_path / "labels.tsv").write_text("x2.png\tn05\nx1.png\tn07\n\n")
    (tmp_path / "wnids.txt").write_text("n05\nn07\n")
    records = folder_records(root, tmp_path / "labels.tsv", tmp_path / "wnids.txt")
    assert [(r.id, r.label) for r in records] == [("x1.png", 1), ("x2.png", 0)]


def test_unreadable_files_are_skipped_and_reported(image_folder):
    loaded = load_records(folder_records(image_folder), resize=16, crop=14)
    assert loaded.ids == ["n01/c.png", "n02/a.png", "n02/b.png"]
    assert (
        list(loaded.unreadable) == ["n01/broken.JPEG"]
        and "UnidentifiedImageError" in loaded.unreadable["n01/broken.JPEG"]
    )
    assert loaded.images.shape == (3, 3, 14, 14) and loaded.labels.tolist() == [0, 1, 1]
    torch.testing.assert_close(
        loaded.images[2, :, 7, 7], torch.tensor([1.0, 0.0, 0.0])
    )  # solid red stays red


def test_resize_keeps_the_aspect_and_crops_the_centre(tmp_path):
    path = tmp_path / "halves.png"
    array = np.zeros((20, 60, 3), dtype=np.uint8)
    array[:, 20:40] = 255  # a white middle third, black sides
    Image.fromarray(array).save(path)
    image = load_image(path, resize=10, crop=10)  # 60×20 → 30×10, centre 10 columns = the white third
    assert image.shape == (3, 10, 10)
    assert float(image[:, :, 2:8].min()) == 1.0


@pytest.mark.parametrize(
    "lines,match",
    [
        ("x1.png n05\n", "line 1: expected 'filename<TAB>wnid'"),
        ("x1.png\tn99\n", "line 1: wnid 'n99' is not in the wnid list"),
    ],
)
def test_label_file_errors_name_the_line(tmp_path, lines, match):
    (tmp_path / "flat").mkdir()
    (tmp_path / "labels.tsv").write_text(lines)
    (tmp_path / "wnids.txt").write_text("n05\n")
    with pytest.raises(ValueError, match=match):
        folder_records(tmp_path / "flat", tmp_path / "labels.tsv", tmp_path / "wnids.txt")


def test_folder_errors_say_what_to_pass(tmp_path, image_folder):
    with pytest.raises(FileNotFoundError, match="image folder .* not found"):
        folder_records(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no class sub-folders"):
        folder_records(tmp_path / "empty")
    with pytest.raises(ValueError, match="also needs the wnid list"):
        folder_records(tmp_path / "empty", labels_file=tmp_path / "labels.tsv")
    (tmp_path / "short.txt").write_text("n01\n")
    with pytest.raises(ValueError, match=r"\['n02'\] .* not in the wnid list"):
        folder_records(image_folder, wnids_file=tmp_path / "short.txt")
    (tmp_path / "twice.txt").write_text("n01\nn01\nn02\n")
    with pytest.raises(ValueError, match="more than once"):
        folder_records(image_folder, wnids_file=tmp_path / "twice.txt")


def test_the_packaged_imagenet_list_is_imagenet_1k_in_class_index_order():
    from idgi_fast.data import imagenet_wnids

    wnids = imagenet_wnids()
    assert len(set(wnids)) == 1000 and wnids == sorted(wnids)
    # fixed points of ImageNet-1k's class indices: tench, goldfish, bakery, toilet tissue
    assert (wnids[0], wnids[1], wnids[415], wnids[999]) == (
        "n01440764",
        "n01443537",
        "n02776631",
        "n15075141",
    )


def test_a_few_imagenet_class_folders_get_their_imagenet_indices(tmp_path):
    """The common quick test: a handful of n0… folders. Their labels are ImageNet-1k's indices
    (the zoo's outputs), not 0, 1, 2 from the sorted folder names."""
    from idgi_fast.models import model_classes
    from idgi_fast.study import StudyConfig
    from idgi_fast.study.inputs.named_models import ImageSource

    root = tmp_path / "val"
    write_png(root / "n02776631" / "a.png", 8, 8, (1, 2, 3))
    write_png(root / "n01443537" / "b.png", 8, 8, (1, 2, 3))
    labels = {r.id: r.label for r in folder_records(root, classes=model_classes("resnet50"))}
    assert labels == {"n01443537/b.png": 1, "n02776631/a.png": 415}
    source = ImageSource(StudyConfig(models=("resnet50",), data_root=str(root), images=None))
    assert [r.label for r in source.records] == [1, 415]


def test_folders_and_lists_that_cannot_match_the_model_are_refused(tmp_path):
    from idgi_fast.models import model_classes
    from idgi_fast.study import StudyConfig
    from idgi_fast.study.inputs.named_models import ImageSource

    root = tmp_path / "val"
    write_png(root / "n01443537" / "a.png", 8, 8, (1, 2, 3))
    write_png(root / "cats" / "b.png", 8, 8, (1, 2, 3))
    with pytest.raises(ValueError, match=r"class folders \['cats'\] .* not in the model's classes .*--wnids"):
        folder_records(root, classes=model_classes("vgg16"))
    short = tmp_path / "wnids.txt"
    short.write_text("n01443537\ncats\n")
    with pytest.raises(ValueError, match="names 2 classes but vgg16 has 1000 outputs"):
        ImageSource(StudyConfig(models=("vgg16",), data_root=str(root), wnids_file=str(short), images=None))
    with pytest.raises(ValueError, match="one image folder cannot label both"):
        StudyConfig(models=("scenenet", "vgg16"), data_root=str(root))


@pytest.mark.parametrize("size, box", [((80, 40), (30, 10, 50, 30)), ((36, 90), (4, 30, 20, 62))])
def test_a_box_becomes_the_mask_of_the_pixels_it_covers_after_resize_and_crop(tmp_path, size, box):
    """A white box drawn on black, loaded as every folder image is, is where box_mask says: every
    pixel the resize leaves clearly white is in the mask, every clearly black one out (the box's
    edge pixels, blended by the resize, may go either way)."""
    picture = np.zeros((size[1], size[0], 3), dtype=np.uint8)
    picture[box[1] : box[3], box[0] : box[2]] = 255
    Image.fromarray(picture).save(tmp_path / "box.png")
    image = load_image(tmp_path / "box.png", resize=18, crop=16)
    mask = box_mask(box, size, resize=18, crop=16)
    assert mask.shape == (16, 16) and 0 < int(mask.sum()) < 256
    assert mask[image[0] > 0.9].all() and not mask[image[0] < 0.1].any()
    assert int((image[0] > 0.9).sum()) < int(mask.sum()) <= int((image[0] > 0.1).sum())


def test_a_box_outside_the_crop_masks_nothing_and_one_around_the_image_everything():
    assert not box_mask((0, 0, 10, 40), (80, 40), resize=16, crop=16).any()
    assert box_mask((0, 0, 80, 40), (80, 40), resize=16, crop=16).all()
