"""What machine and versions a benchmark ran on (kept for the benchmark scripts' imports)."""

from keras_rexnet.bench import machine_info  # noqa: F401
