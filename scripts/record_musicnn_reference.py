"""Record the original musicnn (TensorFlow) outputs on a fixed input, to test the PyTorch port against.

Runs OUTSIDE the mmx environment, in a throwaway one that has the original code:

    python -m venv /tmp/tfenv
    /tmp/tfenv/bin/pip install tensorflow-cpu librosa tf_keras
    /tmp/tfenv/bin/pip install --no-deps musicnn==0.1.0
    TF_USE_LEGACY_KERAS=1 /tmp/tfenv/bin/python scripts/record_musicnn_reference.py tests/data/musicnn_reference.npz

(``tf.compat.v1.layers``, which musicnn uses, needs the Keras 2 package ``tf_keras`` under TF 2.16+.)

Saved: the MSD_musicnn penultimate features and tag logits for ``reference_input()`` (two 187×96
log-mel windows), and librosa's mel spectrogram of ``reference_wave()`` (0.5 s) with musicnn's
settings, to test the numpy front end.
"""

from __future__ import annotations

import os
import sys

import numpy as np


def reference_input() -> np.ndarray:
    return np.random.default_rng(0).uniform(0.0, 3.0, (2, 187, 96)).astype(np.float32)


def reference_wave() -> np.ndarray:
    t = np.arange(8000) / 16000
    noise = np.random.default_rng(1).normal(0.0, 0.05, t.shape)
    return (0.5 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 3000 * t) + noise).astype(np.float32)


def main(out: str) -> None:
    import librosa
    import musicnn
    import tensorflow as tf
    from musicnn import models

    tf.compat.v1.disable_eager_execution()
    x = tf.compat.v1.placeholder(tf.float32, [None, 187, 96])
    with tf.name_scope("model"):
        outputs = models.define_model(x, False, "MSD_musicnn", 50)
    logits, penultimate = outputs[0], outputs[-1]
    sess = tf.compat.v1.Session()
    tf.compat.v1.train.Saver().restore(sess, os.path.dirname(musicnn.__file__) + "/MSD_musicnn/")
    lg, pen = sess.run([logits, penultimate], {x: reference_input()})
    mel = librosa.feature.melspectrogram(y=reference_wave(), sr=16000, hop_length=256, n_fft=512, n_mels=96).T
    np.savez(out, logits=lg, penultimate=pen, mel=mel.astype(np.float32),
             versions=f"tensorflow {tf.__version__}, librosa {librosa.__version__}")
    print(f"wrote {out}: penultimate {pen.shape}, mel {mel.shape}")


if __name__ == "__main__":
    main(sys.argv[1])
