"""Where a track's audio comes from: an audio file or an array (live input and MIDI come later)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

from rackhost.errors import AudioFileError

READABLE = "WAV, FLAC, AIFF, OGG/Vorbis, MP3 and the other formats libsndfile reads"


class ArraySource:
    """Audio already in memory, shape (channels, frames), at ``sample_rate``."""

    def __init__(self, audio: np.ndarray, sample_rate: float, name: str = "array"):
        audio = np.asarray(audio, dtype=np.float32)
        if audio.ndim == 1:
            audio = audio[np.newaxis, :]
        if audio.ndim != 2 or audio.shape[0] not in (1, 2):
            raise AudioFileError(
                f"source {name!r} has shape {audio.shape}; a track takes (1, frames) or (2, frames) audio"
            )
        self.name = name
        self.sample_rate = float(sample_rate)
        self._audio = np.ascontiguousarray(audio)
        self._resampled: dict[float, np.ndarray] = {}
        self.note: str | None = None

    @property
    def channels(self) -> int:
        return self._audio.shape[0]

    @property
    def frames(self) -> int:
        return self._audio.shape[1]

    def audio(self, sample_rate: float) -> np.ndarray:
        """The whole source at ``sample_rate``, resampled with soxr (very high quality) if it differs."""
        if sample_rate == self.sample_rate:
            return self._audio
        if sample_rate not in self._resampled:
            out = soxr.resample(self._audio.T, self.sample_rate, sample_rate, quality="VHQ")
            self._resampled[sample_rate] = np.ascontiguousarray(out.T, dtype=np.float32)
            self.note = (
                f"{self.name}: resampled from {self.sample_rate:g} Hz to the session's {sample_rate:g} Hz "
                f"(soxr, very high quality)"
            )
        return self._resampled[sample_rate]

    def to_dict(self) -> dict:
        return {"type": "array", "name": self.name}


class AudioFileSource(ArraySource):
    """An audio file, read whole into memory so playback never touches the disk."""

    def __init__(self, path: str | Path):
        path = Path(path)
        self.path = path
        audio, rate = read_audio_file(path)
        super().__init__(audio, rate, name=path.name)

    def to_dict(self) -> dict:
        return {"type": "file", "path": str(self.path)}


def read_audio_file(path: Path) -> tuple[np.ndarray, int]:
    """(audio of shape (channels, frames) float32, sample rate), or a clear :class:`AudioFileError`."""
    if not path.exists():
        raise AudioFileError(f"input file {str(path)!r} does not exist; check the path")
    if path.is_dir():
        raise AudioFileError(f"input {str(path)!r} is a folder, not an audio file")
    try:
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except sf.LibsndfileError as err:
        raise AudioFileError(
            f"cannot read {str(path)!r} as audio ({err.error_string}); rackhost reads {READABLE}"
        ) from err
    except (OSError, RuntimeError) as err:
        raise AudioFileError(f"cannot read {str(path)!r}: {err}") from err
    if data.shape[1] > 2:
        raise AudioFileError(
            f"{str(path)!r} has {data.shape[1]} channels; rackhost tracks are mono or stereo, "
            f"so split it into mono or stereo files first"
        )
    if data.shape[0] == 0:
        raise AudioFileError(f"{str(path)!r} holds no audio (0 frames)")
    return np.ascontiguousarray(data.T), int(rate)
