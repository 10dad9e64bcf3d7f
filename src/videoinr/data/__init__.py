"""Data: readers (frames, video), scene cuts, MATLAB-compatible imresize/degradation, training windows.

Modules: ``imresize`` (imresize, degrade), ``frames`` (list_frames, read_image, read_frames, folder_videos,
vimeo_septuplets), ``video`` (PyAV I/O), ``scenes`` (CutDetector, detect_cuts, split_shots), ``augment``,
``windows`` (Source, WindowDataset, scale_batch). Import from the modules; this package imports nothing
heavy on its own.
"""
