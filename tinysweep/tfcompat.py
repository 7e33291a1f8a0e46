"""One way to import TensorFlow and Keras 2 (tf_keras) everywhere.

tfmot's QAT only works on tf_keras models and flips TF_USE_LEGACY_KERAS at import, so the
whole project uses tf_keras; the variable must be set before TensorFlow is first imported.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import tensorflow as tf  # noqa: E402
import tf_keras as keras  # noqa: E402

__all__ = ["tf", "keras"]
