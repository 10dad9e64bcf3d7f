from itertools import islice

import numpy as np
import pytest

from videoinr.data.scenes import CutDetector, detect_cuts, split_shots
from videoinr.data.video import iter_video
from videoinr.errors import VideoINRError

BIKES_CUTS = [30, 76, 137, 187, 242]


def test_bikes_cuts_from_path(shared_data):
    assert detect_cuts(shared_data / "train" / "bikes_scenecuts.mp4") == BIKES_CUTS


def test_streaming_detector_lookahead(shared_data):
    det = CutDetector()
    confirmed_at = {}
    for f in iter_video(shared_data / "train" / "bikes_scenecuts.mp4"):
        for c in det.push(f.image):
            confirmed_at[c] = f.index
    assert det.cuts == BIKES_CUTS
    assert all(0 <= confirmed_at[c] - c <= det.lookahead for c in BIKES_CUTS)


def test_cuts_from_frame_list(shared_data):
    frames = [f.image for f in islice(iter_video(shared_data / "train" / "bikes_scenecuts.mp4"), 60)]
    assert detect_cuts(frames) == [30]


def test_short_shot_between_cuts_is_kept(shared_data):
    frames = [f.image for f in islice(iter_video(shared_data / "train" / "bikes_scenecuts.mp4"), 150)]
    spliced = frames[0:30] + frames[140:146] + frames[40:70]  # a 6-frame shot between two cuts
    assert detect_cuts(spliced) == [30, 36]


@pytest.mark.parametrize("clip", ["03_blocks.mp4", "06_bedroom.mp4"])
def test_no_false_cuts_on_single_shot_clips(shared_data, clip):
    # The two sam2 clips with the largest frame-to-frame changes; frames streamed (720p, not stored).
    frames = (f.image for f in islice(iter_video(shared_data / "train" / "sam2_clips" / clip), 200))
    assert detect_cuts(frames) == []


def test_no_false_cuts_fast_camera_motion_folder(shared_data):
    # bmx-trees: a fixed ContentDetector threshold would fire all along this fast pan.
    assert detect_cuts(shared_data / "train" / "davis480p" / "bmx-trees") == []


def test_split_shots():
    assert split_shots(250, BIKES_CUTS) == [range(0, 30), range(30, 76), range(76, 137), range(137, 187),
                                            range(187, 242), range(242, 250)]
    assert split_shots(5, []) == [range(0, 5)]
    assert split_shots(5, [0, 5, 9, 2, 2]) == [range(0, 2), range(2, 5)]
    assert split_shots(0, [1]) == []


def test_mixed_sizes_and_missing_source(tmp_path):
    det = CutDetector()
    det.push(np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(VideoINRError, match="frame 1"):
        det.push(np.zeros((16, 8, 3), np.uint8))
    with pytest.raises(VideoINRError):
        detect_cuts(tmp_path / "missing.mp4")
