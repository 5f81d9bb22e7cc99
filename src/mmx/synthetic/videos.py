"""A synthetic corpus of short "trailers" as real video files, cut at known frames.

SYNTHETIC DATA. Each trailer is a run of shots; each shot is dominated by one of the trailer's
genres, and a genre has its own look (hue, brightness, stripe texture and grain), motion (how fast
the texture drifts) and sound (the pitch and timbre of a tone). Neighbouring shots always differ in
hue and brightness, so every cut is a real content cut that a scene detector can find; the frame
of every cut is written to ``truth.json``. The files are encoded with FFmpeg (through PyAV) like
any real trailer — h264 + AAC in mp4 by default — and come with a ``labels.csv`` in the import
format, so ``mmx extract`` reads them exactly as it reads a folder of real trailers.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Sequence

import av
import cv2
import numpy as np

from mmx.data.labels_csv import write_labels


@dataclass(frozen=True)
class GenreStyle:
    hue: float  # dominant hue in degrees (0–360); kept off red's 0/360 seam, where noise flips hue
    value: float  # base brightness (0–1); shots alternate ±0.2 around it
    stripe_period: float  # wavelength of the drifting stripe texture, pixels
    speed: float  # drift of the texture, pixels per frame
    grain: float  # std of per-frame noise on brightness, in 0–255 units
    tone_hz: float  # pitch of the shot's tone
    harmonics: int  # 1 = pure sine; more = brighter, buzzier timbre
    saturation: float = 1.0  # scales the shots' saturation (a neutral shot is nearly grey)


GENRE_STYLES: dict[str, GenreStyle] = {
    "Action": GenreStyle(hue=16, value=0.65, stripe_period=10, speed=2.5, grain=8, tone_hz=110, harmonics=6),
    "Comedy": GenreStyle(hue=60, value=0.75, stripe_period=28, speed=0.8, grain=2, tone_hz=660, harmonics=1),
    "Horror": GenreStyle(hue=275, value=0.45, stripe_period=40, speed=0.3, grain=14, tone_hz=55, harmonics=3),
    "Romance": GenreStyle(hue=330, value=0.7, stripe_period=22, speed=0.5, grain=3, tone_hz=440, harmonics=2),
    "Sci-Fi": GenreStyle(hue=190, value=0.6, stripe_period=12, speed=2.0, grain=5, tone_hz=880, harmonics=4),
    "Western": GenreStyle(hue=38, value=0.55, stripe_period=18, speed=1.2, grain=7, tone_hz=220, harmonics=3),
}

# a shot that shows none of its trailer's genres (a title card, dialogue): nearly grey, a plain mid tone
NEUTRAL_STYLE = GenreStyle(hue=100, value=0.5, stripe_period=16, speed=1.0, grain=4, tone_hz=330, harmonics=1,
                           saturation=0.15)

# file suffix → (video codec, audio codec): one pairing FFmpeg supports in each container
CONTAINER_CODECS: dict[str, tuple[str, str]] = {
    ".mp4": ("libx264", "aac"),
    ".mov": ("libx264", "aac"),
    ".mkv": ("libx264", "aac"),
    ".webm": ("libvpx", "libopus"),
    ".avi": ("mpeg4", "libmp3lame"),
}
CODEC_OPTIONS: dict[str, dict[str, str]] = {  # fast, nearly lossless settings where a codec has them
    "libx264": {"preset": "ultrafast", "crf": "20"},
    "mpeg4": {"qscale": "3"},
}


@dataclass
class VideoCorpusConfig:
    n_videos: int = 24  # trailers in the corpus
    seed: int = 0  # everything is drawn from this seed
    genres: list[str] = field(default_factory=lambda: list(GENRE_STYLES))  # styles to draw from
    max_genres: int = 2  # each trailer has 1..max_genres genres
    shots: tuple[int, int] = (10, 14)  # shots per trailer, uniform; ≥ 10 so trailers pass the §4.1 rule
    shot_frames: tuple[int, int] = (16, 30)  # frames per shot, uniform; > PySceneDetect's 15-frame minimum
    width: int = 160  # frame size: small, so that generating and extracting stay fast
    height: int = 120
    fps: int = 24  # frames per second
    sample_rate: int = 22050  # audio rate of the files (extraction resamples to 16 kHz)
    channels: int = 1  # mono (FFmpeg's AAC encoder is the slowest part of generating; tests use stereo too)
    suffix: str = ".mp4"  # container, a key of CONTAINER_CODECS
    # a harder corpus (``mmx demo``): off by default and drawn from a random stream of their own, so a corpus
    # without them is generated bit for bit as before
    neutral_fraction: float = 0.0  # chance that a shot shows none of the trailer's genres (NEUTRAL_STYLE)
    look_overlap: float = 0.0  # a shot's look moves a uniform share up to this towards another genre's look
    silent_fraction: float = 0.0  # trailers whose audio track is digital silence (a broken mix)
    no_audio_fraction: float = 0.0  # trailers without an audio track


@dataclass
class VideoTruth:
    trailer_id: str
    file: str
    genres: list[str]
    shot_genres: list[str | None]  # the genre dominating each shot (None: a neutral shot)
    cuts: list[int]  # frame index where each shot after the first starts
    n_frames: int
    fps: int
    audio: str = "tone"  # the audio track: "tone" (the shots' sounds), "silent" or "none"


# ----------------------------------------------------------------------------------- rendering
def _hsv_frame(hue: float, sat: float, val: np.ndarray) -> np.ndarray:
    """(H, W) brightness map in 0–255 with one hue and saturation → (H, W, 3) uint8 RGB."""
    h, w = val.shape
    hsv = np.empty((h, w, 3), np.uint8)
    hsv[..., 0] = int(round(hue / 2)) % 180  # OpenCV hue is 0–179
    hsv[..., 1] = int(round(sat * 255))
    hsv[..., 2] = np.clip(val, 0, 255).astype(np.uint8)
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)


def render_shot(
    style: GenreStyle, n_frames: int, width: int, height: int, rng: np.random.Generator,
    even: bool,
) -> np.ndarray:
    """One shot of a genre: (n_frames, height, width, 3) uint8 RGB, stripes drifting at the genre's speed.

    Even and odd shots differ in saturation (0.95 / 0.5) and brightness (±0.2), so that every cut
    changes the picture well beyond PySceneDetect's default threshold, even between shots of one genre.
    """
    angle = rng.uniform(0, 2 * np.pi)  # direction the texture drifts
    direction = np.array([np.cos(angle), np.sin(angle)])
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    along = xx * direction[0] + yy * direction[1]  # (H, W) coordinate along the drift
    base = 255 * (style.value + (0.2 if even else -0.2))
    sat = (0.95 if even else 0.5) * style.saturation
    hue = style.hue + rng.uniform(-8, 8)
    frames = np.empty((n_frames, height, width, 3), np.uint8)
    phase0 = rng.uniform(0, style.stripe_period)
    for t in range(n_frames):
        stripes = 18 * np.sin(2 * np.pi * (along - phase0 - style.speed * t) / style.stripe_period)
        grain = rng.normal(0, style.grain, size=(height, width))
        frames[t] = _hsv_frame(hue, sat, base + stripes + grain)
    return frames


def render_tone(
    style: GenreStyle, seconds: float, sample_rate: int, rng: np.random.Generator,
) -> np.ndarray:
    """The shot's sound: (n,) float32 tone with the genre's pitch and harmonics, faded in and out."""
    n = int(round(seconds * sample_rate))
    t = np.arange(n) / sample_rate
    f0 = style.tone_hz * rng.uniform(0.97, 1.03)
    wave = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, style.harmonics + 1))
    fade = np.minimum(1.0, np.minimum(t, t[::-1]) / 0.02)  # 20 ms ramps: no clicks at the cuts
    return (0.3 * wave * fade / max(1.0, np.abs(wave).max(initial=0))).astype(np.float32)


# ----------------------------------------------------------------------------------- encoding
def write_video(
    path: str | Path,
    frames: Iterable[np.ndarray],
    fps: float,
    audio: np.ndarray | None = None,
    sample_rate: int = 22050,
    frame_times: Sequence[float] | None = None,
    codecs: tuple[str, str] | None = None,
    options: dict[str, str] | None = None,
) -> Path:
    """Encode RGB frames (and optional ``(n,)`` or ``(channels, n)`` audio) into ``path``.

    ``frame_times`` (seconds) gives every frame its own timestamp: a variable-frame-rate file.
    With ``frames`` empty the file holds audio only. ``options`` replace the video codec's
    ``CODEC_OPTIONS`` (e.g. another ``crf``: another bitrate).
    """
    path = Path(path)
    vcodec, acodec = codecs or CONTAINER_CODECS[path.suffix.lower()]
    frames = iter(frames)
    first = next(frames, None)
    with av.open(str(path), "w") as out:
        vstream = None
        if first is not None:
            vstream = out.add_stream(vcodec, rate=Fraction(fps).limit_denominator(1001))
            vstream.height, vstream.width = first.shape[:2]
            vstream.pix_fmt = "yuv420p"
            vstream.options = CODEC_OPTIONS.get(vcodec, {}) if options is None else options
            if frame_times is not None:
                vstream.codec_context.time_base = Fraction(1, 1000)
        astream = None
        if audio is not None:
            audio = np.atleast_2d(np.asarray(audio, np.float32))  # (channels, n)
            astream = out.add_stream(acodec, rate=_audio_rate(acodec, sample_rate))
            astream.layout = "stereo" if audio.shape[0] == 2 else "mono"
        if vstream is not None:
            _encode_frames(out, vstream, itertools.chain([first], frames), frame_times)
        if astream is not None:
            _encode_audio(out, astream, audio, sample_rate)
    return path


def _encode_frames(out, stream, frames: Iterable[np.ndarray], frame_times) -> None:
    for i, img in enumerate(frames):
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
        if frame_times is not None:
            frame.pts = int(round(frame_times[i] * 1000))
            frame.time_base = Fraction(1, 1000)
        out.mux(stream.encode(frame))
    out.mux(stream.encode(None))


def _encode_audio(out, stream, audio: np.ndarray, sample_rate: int) -> None:
    """(channels, n) float32 → the encoder, through FFmpeg's resampler (its sample format, rate and frame size)."""
    ctx = stream.codec_context
    resampler = av.AudioResampler(format=ctx.format.name, layout=stream.layout.name, rate=ctx.sample_rate,
                                  frame_size=ctx.frame_size or None)
    step = 1024
    for start in range(0, audio.shape[1], step):
        chunk = np.ascontiguousarray(audio[:, start:start + step])  # (channels, step), planar float
        frame = av.AudioFrame.from_ndarray(chunk, format="fltp", layout=stream.layout.name)
        frame.sample_rate = sample_rate
        frame.pts = start
        for f in resampler.resample(frame):
            out.mux(stream.encode(f))
    for f in resampler.resample(None):
        out.mux(stream.encode(f))
    out.mux(stream.encode(None))


def _audio_rate(codec: str, wanted: int) -> int:
    """``wanted`` when the encoder takes it, else its highest rate (Opus takes 8–48 kHz only)."""
    rates = av.codec.Codec(codec, "w").audio_rates
    return wanted if not rates or wanted in rates else max(rates)


# ----------------------------------------------------------------------------------- the corpus
def make_trailer(
    path: str | Path, shot_genres: list[str], shot_lengths: list[int], cfg: VideoCorpusConfig,
    rng: np.random.Generator, audio: bool = True, styles: list[GenreStyle] | None = None, silent: bool = False,
) -> list[int]:
    """Write one trailer of the given shots; returns the frame index of every cut. ``styles`` replace the
    shots' genre looks; ``silent`` writes an audio track of digital silence."""
    frames, sound = [], []
    styles = styles or [GENRE_STYLES[g] for g in shot_genres]
    for i, (style, n) in enumerate(zip(styles, shot_lengths)):
        frames.append(render_shot(style, n, cfg.width, cfg.height, rng, even=i % 2 == 0))
        sound.append(render_tone(style, n / cfg.fps, cfg.sample_rate, rng))
    wave = None
    if audio:
        mono = np.concatenate(sound) * (0.0 if silent else 1.0)
        wave = np.stack([mono, 0.8 * mono])[: cfg.channels]
    write_video(path, (f for shot in frames for f in shot), cfg.fps, wave, cfg.sample_rate)
    return [int(c) for c in np.cumsum(shot_lengths)[:-1]]


def blend(a: GenreStyle, b: GenreStyle, w: float) -> GenreStyle:
    """``a``'s look moved a share ``w`` towards ``b``'s (hue the short way round, pitch geometrically)."""
    def lerp(x: float, y: float) -> float:
        return x + w * (y - x)

    hue = a.hue + w * (((b.hue - a.hue + 180) % 360) - 180)
    return GenreStyle(hue=hue % 360, value=lerp(a.value, b.value), stripe_period=lerp(a.stripe_period, b.stripe_period),
                      speed=lerp(a.speed, b.speed), grain=lerp(a.grain, b.grain),
                      tone_hz=a.tone_hz * (b.tone_hz / a.tone_hz) ** w, harmonics=round(lerp(a.harmonics, b.harmonics)),
                      saturation=lerp(a.saturation, b.saturation))


def shot_looks(shot_genres: list[str], cfg: VideoCorpusConfig, rng: np.random.Generator
               ) -> tuple[list[str | None], list[GenreStyle]]:
    """The genre each shot shows (None: a neutral shot) and its look, overlapping another genre's."""
    shown, looks = [], []
    for g in shot_genres:
        if rng.random() < cfg.neutral_fraction:
            shown.append(None)
            looks.append(NEUTRAL_STYLE)
            continue
        other = str(rng.choice([x for x in cfg.genres if x != g]))
        shown.append(g)
        looks.append(blend(GENRE_STYLES[g], GENRE_STYLES[other], rng.uniform(0, cfg.look_overlap)))
    return shown, looks


def generate_videos(out: str | Path, cfg: VideoCorpusConfig = VideoCorpusConfig()) -> list[VideoTruth]:
    """Write ``n_videos`` trailers, ``labels.csv`` and ``truth.json`` (cuts, shot genres) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(cfg.seed)
    hard = np.random.default_rng([cfg.seed, 1])  # the harder corpus's knobs: their own stream
    truths: list[VideoTruth] = []
    for v in range(cfg.n_videos):
        k = int(rng.integers(1, cfg.max_genres + 1))
        genres = sorted(rng.choice(cfg.genres, size=k, replace=False).tolist())
        n_shots = int(rng.integers(cfg.shots[0], cfg.shots[1] + 1))
        shot_genres = [str(rng.choice(genres)) for _ in range(n_shots)]
        lengths = [int(rng.integers(cfg.shot_frames[0], cfg.shot_frames[1] + 1)) for _ in range(n_shots)]
        tid = f"synth{v:03d}"
        name = f"{tid}{cfg.suffix}"
        shown, looks = shot_looks(shot_genres, cfg, hard)
        track = hard.random()  # below no_audio_fraction: no track; then silent_fraction: a silent one
        audio = ("none" if track < cfg.no_audio_fraction
                 else "silent" if track < cfg.no_audio_fraction + cfg.silent_fraction else "tone")
        cuts = make_trailer(out / name, shot_genres, lengths, cfg, rng, audio=audio != "none", styles=looks,
                            silent=audio == "silent")
        truths.append(VideoTruth(tid, name, genres, shown, cuts, sum(lengths), cfg.fps, audio))
    write_labels(out / "labels.csv", [{"trailer_id": t.trailer_id, "genres": t.genres, "year": 2000 + i % 21,
                                       "title": f"Synthetic trailer {i:03d} ({', '.join(t.genres)})"}
                                      for i, t in enumerate(truths)])
    (out / "truth.json").write_text(json.dumps([asdict(t) for t in truths], indent=1) + "\n")
    return truths


# ----------------------------------------------------------------------------------- copies
def read_video(path: str | Path) -> tuple[list[np.ndarray], float, np.ndarray | None, int]:
    """Decode a file: its RGB frames, frame rate, mono ``(1, n)`` float32 audio (None without a track), audio rate."""
    with av.open(str(path)) as f:
        stream = f.streams.video[0]
        fps = float(stream.average_rate)
        frames = [fr.to_ndarray(format="rgb24") for fr in f.decode(stream)]
    with av.open(str(path)) as f:
        if not f.streams.audio:
            return frames, fps, None, 0
        stream = f.streams.audio[0]
        rate = stream.rate
        resampler = av.AudioResampler(format="fltp", layout="mono", rate=rate)
        chunks = [r.to_ndarray() for fr in f.decode(stream) for r in resampler.resample(fr)]
        chunks += [r.to_ndarray() for r in resampler.resample(None)]
    return frames, fps, np.concatenate(chunks, axis=1).astype(np.float32), rate


def reencode(src: str | Path, dst: str | Path, scale: float = 1.0, crf: int = 32,
             trim: tuple[float, float] = (0.0, 0.0)) -> Path:
    """A copy of ``src`` as a collection meets it: resized by ``scale``, ``trim`` seconds dropped at the
    start and at the end, the picture encoded at another quality (``crf``) and the sound re-encoded."""
    frames, fps, audio, rate = read_video(src)
    first, stop = int(round(trim[0] * fps)), len(frames) - int(round(trim[1] * fps))
    h, w = frames[0].shape[:2]
    size = (2 * max(8, round(w * scale / 2)), 2 * max(8, round(h * scale / 2)))  # (W, H), even for yuv420p
    kept = (cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames[first:stop])
    if audio is not None:
        audio = audio[:, int(round(trim[0] * rate)): audio.shape[1] - int(round(trim[1] * rate))]
    vcodec = CONTAINER_CODECS[Path(dst).suffix.lower()][0]
    options = {**CODEC_OPTIONS.get(vcodec, {}), "crf": str(crf)} if vcodec == "libx264" else None
    return write_video(dst, kept, fps, audio, rate or 22050, options=options)

