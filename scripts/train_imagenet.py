#!/usr/bin/env python
"""The paper's ImageNet recipe; see keras_rexnet/train.py (also `keras-rexnet train`)."""
from keras_rexnet.train import main

if __name__ == "__main__":
    raise SystemExit(main())
