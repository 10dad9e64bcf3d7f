import shutil

import cv2
import numpy as np
import pytest

from videoinr.data.frames import (
    folder_videos,
    list_frames,
    natural_key,
    read_frames,
    read_image,
    vimeo_septuplets,
)
from videoinr.errors import VideoINRError


def test_natural_sort(tmp_path):
    for name in ["f10.png", "f2.png", "f1.png", "notes.txt", "F3.PNG"]:
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_frames(tmp_path)] == ["f1.png", "f2.png", "F3.PNG", "f10.png"]
    assert sorted(["a10", "a9", "a100"], key=natural_key) == ["a9", "a10", "a100"]


def test_read_real_frame_rgb(shared_data):
    path = shared_data / "vid4" / "calendar" / "000.png"
    img = read_image(path)
    assert img.dtype == np.uint8 and img.shape == (576, 720, 3)
    bgr = cv2.imread(str(path))
    assert np.array_equal(img, bgr[..., ::-1])


def test_read_frames_real_folder(shared_data, tmp_path):
    src = shared_data / "train" / "davis480p" / "dog"
    for p in list_frames(src)[:3]:
        shutil.copy(p, tmp_path / p.name)
    frames = read_frames(tmp_path)
    assert len(frames) == 3 and all(f.shape == (480, 854, 3) for f in frames)


@pytest.mark.parametrize("kind,img,msg", [
    ("gray", np.zeros((8, 8), np.uint8), "grayscale"),
    ("rgba", np.zeros((8, 8, 4), np.uint8), "alpha"),
    ("16bit", np.zeros((8, 8, 3), np.uint16), "16-bit"),
])
def test_rejects_unsupported_images(tmp_path, kind, img, msg):
    path = tmp_path / f"{kind}.png"
    cv2.imwrite(str(path), img)
    with pytest.raises(VideoINRError, match=msg) as e:
        read_image(path)
    assert str(path) in str(e.value) and "\n" not in str(e.value)


def test_rejects_unreadable_and_missing(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(VideoINRError, match="bad.png"):
        read_image(bad)
    with pytest.raises(VideoINRError, match="nope.png"):
        read_image(tmp_path / "nope.png")
    with pytest.raises(VideoINRError, match="no such folder"):
        list_frames(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(VideoINRError, match="no image frames"):
        read_frames(empty)


def test_mixed_sizes_name_first_differing_file(tmp_path):
    cv2.imwrite(str(tmp_path / "0.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "1.png"), np.zeros((8, 8, 3), np.uint8))
    cv2.imwrite(str(tmp_path / "2.png"), np.zeros((8, 9, 3), np.uint8))
    with pytest.raises(VideoINRError, match=r"2\.png: frame size 9x8 differs from 8x8"):
        read_frames(tmp_path)


def test_folder_videos_layout(shared_data):
    vids = folder_videos(shared_data / "vid4")
    assert [n for n, _ in vids] == ["calendar", "city", "foliage", "walk"]
    assert [len(p) for _, p in vids] == [41, 34, 49, 47]
    assert vids[0][1][0].name == "000.png"
    single = folder_videos(shared_data / "vid4" / "city")
    assert single[0][0] == "city" and len(single[0][1]) == 34


def test_vimeo_septuplets(shared_data, tmp_path):
    root = shared_data / "train" / "vimeo90k_septuplets"
    seps = vimeo_septuplets(root)
    assert len(seps) == 16
    name, paths = seps[0]
    assert name == "00001/0001" and [p.name for p in paths] == [f"im{i}.png" for i in range(1, 8)]
    assert vimeo_septuplets(root / "sequences") == seps
    assert read_frames(paths[:2])[0].shape == (256, 448, 3)
    with pytest.raises(VideoINRError, match="no Vimeo-90K septuplets"):
        vimeo_septuplets(tmp_path)
